#!/bin/sh
# A `ps` for the kube-bench image. kube-bench finds each component's flags with procps options
# (`ps -C kube-apiserver -o cmd --no-headers`, and `/bin/ps -ef | grep ...` in its cfg audits) that
# busybox's ps lacks, and busybox cuts long command lines: this prints them whole from /proc.
name=""; cmd_only=""; headers=1
while [ $# -gt 0 ]; do
  case "$1" in
    -C) name="$2"; shift ;;
    -fC|-efC) name="$2"; shift ;;
    -o) [ "$2" = cmd ] && cmd_only=1; shift ;;
    --no-headers|--no-heading) headers="" ;;
  esac
  shift
done
if [ -n "$headers" ]; then
  if [ -n "$cmd_only" ]; then echo "CMD"; else echo "UID          PID    PPID  C STIME TTY          TIME CMD"; fi
fi
for dir in /proc/[0-9]*; do
  pid="${dir#/proc/}"
  [ -r "$dir/cmdline" ] || continue
  if [ -n "$name" ]; then
    [ "$(cat "$dir/comm" 2>/dev/null)" = "$name" ] || continue
  fi
  line="$(tr '\0' ' ' < "$dir/cmdline" 2>/dev/null)"
  [ -n "$line" ] || continue
  if [ -n "$cmd_only" ]; then
    echo "${line% }"
  else
    ppid="$(sed -n 's/^PPid:[[:space:]]*//p' "$dir/status" 2>/dev/null)"
    echo "root     $pid $ppid  0 00:00 ?        00:00:00 ${line% }"
  fi
done
