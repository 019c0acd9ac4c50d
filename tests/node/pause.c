/* The pod sandbox's process: holds the pod's namespaces, reaps zombies, ends on SIGINT/SIGTERM.
 * Built statically by build-images.sh so the image is this one file (no registry to pull from). */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }

int main(void) {
    signal(SIGINT, quit);
    signal(SIGTERM, quit);
    signal(SIGCHLD, reap);
    for (;;) pause();
}
