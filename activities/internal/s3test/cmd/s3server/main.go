// Command s3server serves an in-memory S3-compatible server (gofakes3)
// on a local address, for tests of the backup actions' s3:// locations.
// It prints "listening http://HOST:PORT" once it accepts connections.
//
// gofakes3 checks no signatures. With -access-key, requests signed with
// another access key id (or not signed) are refused as S3 refuses them
// (403 InvalidAccessKeyId or AccessDenied) before they reach it, so that
// tests can see how wrong credentials fail; a wrong secret key with the
// right id is not detected.
package main

import (
	"encoding/xml"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	buckets := flag.String("buckets", "", "comma-separated buckets to create")
	accessKey := flag.String("access-key", "", "refuse requests not signed with this access key id")
	offset := flag.Duration("clock-offset", 0, "run the server's clock this far from the real one (skew checks off)")
	flag.Parse()
	if err := run(*addr, *buckets, *accessKey, *offset); err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(1)
	}
}

func run(addr, buckets, accessKey string, offset time.Duration) error {
	backend := s3mem.New(s3mem.WithTimeSource(offsetClock(offset)))
	for b := range strings.SplitSeq(buckets, ",") {
		if b == "" {
			continue
		}
		if err := backend.CreateBucket(b); err != nil {
			return err
		}
	}
	opts := []gofakes3.Option{gofakes3.WithTimeSource(offsetClock(offset))}
	if offset != 0 {
		opts = append(opts, gofakes3.WithTimeSkewLimit(0))
	}
	var h http.Handler = gofakes3.New(backend, opts...).Server()
	if accessKey != "" {
		h = requireKey(accessKey, h)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening http://%s\n", l.Addr())
	return http.Serve(l, h)
}

type offsetClock time.Duration

func (o offsetClock) Now() time.Time                  { return time.Now().Add(time.Duration(o)) }
func (o offsetClock) Since(t time.Time) time.Duration { return o.Now().Sub(t) }

// requireKey refuses requests whose SigV4 credential is not accessKey.
func requireKey(accessKey string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		_, cred, signed := strings.Cut(auth, "Credential=")
		id, _, _ := strings.Cut(cred, "/")
		switch {
		case !signed:
			refuse(w, "AccessDenied", "Access Denied")
		case id != accessKey:
			refuse(w, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func refuse(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}{Code: code, Message: msg})
}
