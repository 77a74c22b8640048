// The sandbox ("pause") process of the local node's pods: holds the pod's namespaces and waits for
// SIGTERM/SIGINT. Built locally (hack/images/build.py pause) because nothing can be pulled here.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
