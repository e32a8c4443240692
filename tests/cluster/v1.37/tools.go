//go:build tools

// Package tools pins the Kubernetes commands this module builds. kubectl too:
// Kubernetes' version skew policy supports a kubectl within one minor
// version of kube-apiserver, so the v1.35 kubectl of ../go.mod is not one
// for a v1.37 server (and building it costs ~30 s over the server's).
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
