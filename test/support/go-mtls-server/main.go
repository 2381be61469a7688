// go-mtls-server: a backend on Go's crypto/tls that requires a client certificate and verifies
// it against -ca (tls.RequireAndVerifyClientCert, as a Go service does), for tests of what such
// a backend accepts that OpenSSL-based servers refuse (a client certificate whose only extended
// key usage is anyExtendedKeyUsage). Listens on 127.0.0.1, a free port, printed as the first
// stdout line; answers every request 200 with the verified client's subject. Ends with stdin.
//
// Build: GO111MODULE=off go build -o /tmp/go-mtls-server ./test/support/go-mtls-server
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
)

func main() {
	cert := flag.String("cert", "", "server certificate chain (PEM)")
	key := flag.String("key", "", "server key (PEM)")
	ca := flag.String("ca", "", "CA certificates that verify client certificates (PEM)")
	flag.Parse()
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		log.Fatal(err)
	}
	pem, err := os.ReadFile(*ca)
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		log.Fatal("no CA certificate in ", *ca)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	server := &http.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "client %s", r.TLS.PeerCertificates[0].Subject)
		}),
	}
	log.Fatal(server.ServeTLS(ln, "", ""))
}
