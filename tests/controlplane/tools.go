//go:build tools

// Package controlplane pins the programs the integration tests run: etcd and kube-apiserver for the
// API-server tier, and kube-controller-manager, kube-scheduler and kubelet for the one-node cluster.
package controlplane

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
