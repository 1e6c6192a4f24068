// etcd built from the same module graph as kube-apiserver, so the versions match
// what upstream tests with (Debian's 3.4.23 is too old for apiserver >= 1.31 watches).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
