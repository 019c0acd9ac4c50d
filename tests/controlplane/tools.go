//go:build tools

// Package controlplane pins the two programs the integration tests run: kube-apiserver and etcd.
package controlplane

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
