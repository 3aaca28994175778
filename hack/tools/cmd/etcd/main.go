// Command etcd is etcd's own server main, built from the Go module proxy.
//
// NB: `go install go.etcd.io/etcd/server/v3@v3.6.x` is refused because etcd's
// go.mod carries replace directives; a one-line main in our own module is not.
// The version is the one k8s.io/kubernetes itself requires (see go.mod), so
// the API server talks to the etcd it was tested with.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
