// Command app is the process-hosted application of the site benchmark: an
// httpPlatform app that listens where HTTP_PLATFORM_PORT says and answers
// every request with one short line naming that port, so the benchmark can
// reach the very same process directly.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	port := os.Getenv("HTTP_PLATFORM_PORT")
	if port == "" {
		fmt.Fprintln(os.Stderr, "app: HTTP_PLATFORM_PORT is not set")
		os.Exit(2)
	}
	body := []byte("bench app port=" + port + "\n")
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})
	if err := http.ListenAndServe("127.0.0.1:"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}
