//! The node's files before it starts: its addresses, its PKI, and the configuration of node.sh,
//! Traefik, containerd, the CNI plugins and the kubelet.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use super::parts::{Parts, image_named, script};
use crate::controlplane::{BoxError, name, write_private};

/// The Node object's name.
pub const NODE_NAME: &str = "kube-harden-node";
/// The node's InternalIP (one end of a veth pair inside the node's network namespace).
pub const NODE_IP: &str = "10.250.0.2";
pub(super) const GW_IP: &str = "10.250.0.1";
/// The stand-in cloud metadata server's address, served inside the node's namespace.
pub const METADATA_IP: &str = "169.254.169.254";
/// The cluster's pod CIDR is the node's: one /24, so the controller manager can only give the node
/// the subnet the CNI configuration (written before the node exists) hands out.
pub(super) const POD_CIDR: &str = "10.244.0.0/24";
pub(super) const API_PORT: u16 = 6443;

pub(super) struct Pki {
    pub(super) dir: PathBuf,
    pub(super) ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    pub(super) fn new(dir: &Path) -> Result<Self, BoxError> {
        fs::create_dir_all(dir)?;
        let ca_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = name("kube-harden-node-ca", None);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&ca_key)?;
        let ca_pem = cert.pem();
        fs::write(dir.join("ca.crt"), &ca_pem)?;
        // The controller manager signs kubelet CSRs with it (the node's own, for the tests only).
        write_private(&dir.join("ca.key"), &ca_key.serialize_pem())?;
        Ok(Self { dir: dir.to_path_buf(), ca_pem, issuer: Issuer::new(params, ca_key) })
    }

    /// Issues `<file>.crt`/`.key` for a client (`client`) or server with these SANs.
    pub(super) fn issue(
        &self,
        file: &str,
        cn: &str,
        org: Option<&str>,
        sans: &[&str],
        server: bool,
    ) -> Result<(), BoxError> {
        let key = KeyPair::generate()?;
        // rcgen makes IP SANs of the names that parse as addresses.
        let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name = name(cn, org);
        params.extended_key_usages =
            vec![if server { ExtendedKeyUsagePurpose::ServerAuth } else { ExtendedKeyUsagePurpose::ClientAuth }];
        fs::write(self.dir.join(format!("{file}.crt")), params.signed_by(&key, &self.issuer)?.pem())?;
        write_private(&self.dir.join(format!("{file}.key")), &key.serialize_pem())?;
        Ok(())
    }

    /// A kubeconfig for a client certificate issued with [`Pki::issue`].
    pub(super) fn kubeconfig(&self, path: &Path, server: &str, file: &str) -> Result<(), BoxError> {
        use base64::Engine;
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let cert = fs::read(self.dir.join(format!("{file}.crt")))?;
        let key = fs::read(self.dir.join(format!("{file}.key")))?;
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: node\n  cluster:\n    server: {server}\n    certificate-authority-data: {}\n\
             users:\n- name: {file}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n\
             contexts:\n- name: {file}@node\n  context:\n    cluster: node\n    user: {file}\n    namespace: default\n\
             current-context: {file}@node\n",
            b64(self.ca_pem.as_bytes()),
            b64(&cert),
            b64(&key),
        );
        write_private(path, &text)
    }
}

/// `bytes` random bytes as hex, from the kernel.
pub(super) fn random_hex(bytes: usize) -> Result<String, BoxError> {
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

pub(super) fn write_configs(
    dir: &Path,
    parts: &Parts,
    cgroup: &str,
    kube_router: bool,
    anonymous_kubelet: bool,
) -> Result<(), BoxError> {
    fs::copy(script("node/node.sh"), dir.join("node.sh"))?;
    fs::copy(script("node/kube-router.sh"), dir.join("kube-router.sh"))?;
    fs::copy(script("node/traefik.sh"), dir.join("traefik.sh"))?;
    fs::write(
        dir.join("env"),
        format!(
            "BIN={}\nKUBE_ROUTER={}\nTRAEFIK={}\nIMAGES={}\nNODE_NAME={NODE_NAME}\nNODE_IP={NODE_IP}\nGW_IP={GW_IP}\n\
             METADATA_IP={METADATA_IP}\nPOD_CIDR={POD_CIDR}\n",
            parts.bin_dir.display(),
            if kube_router { parts.kube_router.display().to_string() } else { "none".into() },
            parts.traefik.display(),
            parts.images.display(),
        ),
    )?;
    write_traefik_config(dir)?;
    write_containerd_config(dir, parts)?;
    write_cni_config(dir)?;
    write_kubelet_config(dir, cgroup, anonymous_kubelet)
}

/// Traefik's static configuration, and the API server's token file with Traefik's token.
fn write_traefik_config(dir: &Path) -> Result<(), BoxError> {
    let d = dir.display();
    // Traefik reads the API with a bearer token (it takes no client certificate): a static token of
    // the API server's --token-auth-file, admin like kube-router's identity, new for every node.
    let token = random_hex(16)?;
    write_private(&dir.join("tokens.csv"), &format!("{token},traefik,traefik,system:masters\n"))?;
    write_private(
        &dir.join("traefik.yaml"),
        &format!(
            r#"global: {{checkNewVersion: false, sendAnonymousUsage: false}}
log: {{level: INFO}}
entryPoints:
  web: {{address: ":80"}}
  # TLS on every router of the HTTPS entrypoint, as Traefik's Helm chart sets it: an Ingress's tls
  # section only loads the certificates.
  websecure: {{address: ":443", http: {{tls: {{}}}}}}
providers:
  kubernetesIngress:
    endpoint: https://{NODE_IP}:{API_PORT}
    token: {token}
    certAuthFilePath: {d}/pki/ca.crt
    ingressEndpoint: {{ip: {NODE_IP}}}
    # Routes (and their certificates) even for a Service without ready pods: it answers 503 then.
    allowEmptyServices: true
  kubernetesGateway:
    endpoint: https://{NODE_IP}:{API_PORT}
    token: {token}
    certAuthFilePath: {d}/pki/ca.crt
    statusAddress: {{ip: {NODE_IP}}}
"#
        ),
    )?;
    Ok(())
}

/// containerd's configuration.
fn write_containerd_config(dir: &Path, parts: &Parts) -> Result<(), BoxError> {
    let d = dir.display();
    // Everything containerd keeps goes under DIR (the host's /run and /var/lib/cni are tmpfs inside
    // the node's mount namespace); cgroupfs to match the kubelet.
    fs::write(
        dir.join("containerd.toml"),
        format!(
            r#"version = 2
root = "{d}/containerd/root"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{d}/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  enable_selinux = false
  # This machine kind has no CAP_SYS_RESOURCE, so lowering an oom_score_adj (pause gets -998) is
  # refused: keep every container's at or above containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{d}/cni"
    max_conf_num = 1
"#,
            pause = image_named(&parts.images, "pause"),
        ),
    )?;
    Ok(())
}

/// The CNI plugins' configuration (a bridge on POD_CIDR) and the pods' resolv.conf.
fn write_cni_config(dir: &Path) -> Result<(), BoxError> {
    fs::create_dir_all(dir.join("cni"))?;
    // The node's podCIDR is POD_CIDR, the only /24 the controller manager has to give.
    fs::write(
        dir.join("cni/10-kube-harden.conflist"),
        r#"{"cniVersion": "0.4.0", "name": "kube-harden", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24", "gateway": "10.244.0.1"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}
]}
"#,
    )?;
    fs::write(dir.join("resolv.conf"), format!("nameserver {GW_IP}\n"))?;
    Ok(())
}

/// The kubelet's configuration: its cgroup root `cgroup`, and anonymous access and the read-only
/// port only if `anonymous_kubelet`.
fn write_kubelet_config(dir: &Path, cgroup: &str, anonymous_kubelet: bool) -> Result<(), BoxError> {
    let d = dir.display();
    fs::write(
        dir.join("kubelet.yaml"),
        format!(
            r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine kind has the cgroup v1 hierarchy; kubelet >= 1.35 refuses it unless told.
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupRoot: /{cgroup}
containerRuntimeEndpoint: unix://{d}/containerd.sock
address: {NODE_IP}
port: 10250
readOnlyPort: {read_only_port}
healthzBindAddress: 127.0.0.1
authentication:
  anonymous:
    enabled: {anonymous_kubelet}
  webhook:
    enabled: true
  x509:
    clientCAFile: {d}/pki/ca.crt
authorization:
  mode: {authorization}
tlsCertFile: {d}/pki/kubelet-serving.crt
tlsPrivateKeyFile: {d}/pki/kubelet-serving.key
resolvConf: {d}/resolv.conf
# The sysctls it would set are shadowed inside the node's mount namespace (node.sh).
protectKernelDefaults: false
evictionHard:
  memory.available: 50Mi
  nodefs.available: 1%
  nodefs.inodesFree: 1%
  imagefs.available: 1%
# The images were imported, not pulled: garbage-collecting them would break the next pod.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 110
"#,
            read_only_port = if anonymous_kubelet { 10255 } else { 0 },
            authorization = if anonymous_kubelet { "AlwaysAllow" } else { "Webhook" },
        ),
    )?;
    Ok(())
}
