package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/plan"
)

// ErrObjectStore is an S3 request the server refused: credentials,
// permissions, a missing bucket (never retried), or a server error or
// throttling (retried).
const ErrObjectStore = "ObjectStore"

// s3Fields are the inputs of every backup action for an s3:// location,
// declared once and appended to each spec.
var s3Fields = []plan.Field{
	{Name: "s3Region", Type: plan.StringType, Default: "us-east-1", Description: "S3 region of an s3:// location."},
	{Name: "s3Endpoint", Type: plan.StringType, Description: "http:// or https:// URL of an S3-compatible server (MinIO, Ceph, ...) instead of AWS.", Role: plan.RoleURL},
	{Name: "s3PathStyle", Type: plan.BoolType, Default: false, Description: "Address the bucket in the URL path (ENDPOINT/BUCKET/KEY), as most S3-compatible servers want, not in the host name."},
	{Name: "s3AccessKeyId", Type: plan.StringType, Description: "S3 access key id; use ${{ secrets.NAME }}. With no key given, the AWS SDK's default chain (environment, shared config, web identity, instance role)."},
	{Name: "s3SecretAccessKey", Type: plan.StringType, Description: "S3 secret access key, given with s3AccessKeyId; use ${{ secrets.NAME }}."},
	{Name: "s3SessionToken", Type: plan.StringType, Description: "Session token of temporary S3 credentials, given with both keys; use ${{ secrets.NAME }}."},
}

// withS3 is a spec's own inputs followed by the s3 ones.
func withS3(own []plan.Field) []plan.Field { return append(own, s3Fields...) }

// s3Options are the s3 inputs, embedded in each backup action's inputs.
type s3Options struct {
	S3Region          string `json:"s3Region"`
	S3Endpoint        string `json:"s3Endpoint"`
	S3PathStyle       bool   `json:"s3PathStyle"`
	S3AccessKeyID     string `json:"s3AccessKeyId"`
	S3SecretAccessKey string `json:"s3SecretAccessKey"`
	S3SessionToken    string `json:"s3SessionToken"`
}

// refuseLocal refuses s3 inputs given for a local location: they would
// be silently ignored. s3Region at its default is not counted.
func (o s3Options) refuseLocal(action, input, where string) error {
	var given []string
	for _, g := range []struct {
		name string
		set  bool
	}{{"s3Region", o.S3Region != "" && o.S3Region != s3Fields[0].Default}, {"s3Endpoint", o.S3Endpoint != ""}, {"s3PathStyle", o.S3PathStyle},
		{"s3AccessKeyId", o.S3AccessKeyID != ""}, {"s3SecretAccessKey", o.S3SecretAccessKey != ""}, {"s3SessionToken", o.S3SessionToken != ""}} {
		if g.set {
			given = append(given, g.name)
		}
	}
	if len(given) > 0 {
		return badInput("%s: %s are for an s3:// %s; %s is local", action, strings.Join(given, ", "), input, where)
	}
	return nil
}

func isS3(location string) bool { return strings.HasPrefix(location, "s3://") }

// bucketPattern is an S3 bucket name as AWS allows it.
var bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// regionPattern is a region name, AWS's or an S3-compatible server's.
var regionPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// parseS3URL reads s3://BUCKET[/KEY] in input; the key is a path of
// segments none of which is empty, "." or "..", so that it names one
// place (and required when needKey).
func parseS3URL(action, input, v string, needKey bool) (bucket, key string, err error) {
	rest := strings.TrimPrefix(v, "s3://")
	bucket, key, _ = strings.Cut(rest, "/")
	if !bucketPattern.MatchString(bucket) || strings.Contains(bucket, "..") || net.ParseIP(bucket) != nil {
		return "", "", badInput("%s: %s %q: bucket %q is not a valid S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, not an IP address)", action, input, v, bucket)
	}
	if key == "" && needKey {
		return "", "", badInput("%s: %s %q names no object: write s3://BUCKET/KEY", action, input, v)
	}
	if key == "" {
		return bucket, "", nil
	}
	what := "key"
	if !needKey {
		what = "key prefix"
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." || !utf8.ValidString(seg) || strings.ContainsFunc(seg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return "", "", badInput("%s: %s %q: %s %q must be segments separated by single '/', none empty, '.' or '..', without control characters", action, input, v, what, key)
		}
	}
	if len(key) > 900 {
		return "", "", badInput("%s: %s %q: %s is %d bytes; S3 keys are at most 1024 with the backup's name", action, input, v, what, len(key))
	}
	return bucket, key, nil
}

// s3PartSize is the size of each part of a multipart upload (a variable:
// tests lower it to S3's minimum to upload many parts).
var s3PartSize int64 = 16 << 20

// s3ClientOptions are applied to every S3 client after the inputs (tests
// count the requests by operation).
var s3ClientOptions []func(*s3.Options)

// s3Store is a key prefix in an S3 bucket. An archive is built in a
// local temporary file, then uploaded by multipart (each part with its
// SHA-256, aborted on failure), and its manifest put beside it last: an
// S3 object appears whole or not at all, so there are no .partial
// objects; instead, incomplete multipart uploads of the prefix that a
// crashed backup left are aborted.
type s3Store struct {
	client *s3.Client
	action string
	bucket string
	dir    string // the key prefix: "" or ending in "/"
}

func newS3Store(ctx context.Context, action, bucket, keyPrefix string, o s3Options) (*s3Store, error) {
	switch {
	case !regionPattern.MatchString(o.S3Region):
		return nil, badInput("%s: s3Region %q is not a region name", action, o.S3Region)
	case (o.S3AccessKeyID == "") != (o.S3SecretAccessKey == ""):
		return nil, badInput("%s: s3AccessKeyId and s3SecretAccessKey go together: give both, or neither for the AWS SDK's default credential chain", action)
	case o.S3SessionToken != "" && o.S3AccessKeyID == "":
		return nil, badInput("%s: s3SessionToken needs s3AccessKeyId and s3SecretAccessKey", action)
	}
	if o.S3Endpoint != "" {
		u, err := url.Parse(o.S3Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, badInput("%s: s3Endpoint %q must be an http:// or https:// URL of a server, without user, query or fragment", action, o.S3Endpoint)
		}
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(o.S3Region)}
	if o.S3AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.S3AccessKeyID, o.S3SecretAccessKey, o.S3SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, badInput("%s: loading the AWS configuration: %v", action, err)
	}
	client := s3.NewFromConfig(cfg, append([]func(*s3.Options){func(so *s3.Options) {
		if o.S3Endpoint != "" {
			so.BaseEndpoint = aws.String(o.S3Endpoint)
		}
		so.UsePathStyle = o.S3PathStyle
		// Servers that send no checksum of a download are many; verify
		// checks the archive's SHA-256 against its manifest anyway.
		so.DisableLogOutputChecksumValidationSkipped = true
	}}, s3ClientOptions...)...)
	if keyPrefix != "" {
		keyPrefix += "/"
	}
	return &s3Store{client: client, action: action, bucket: bucket, dir: keyPrefix}, nil
}

func (s *s3Store) key(name string) string  { return s.dir + name }
func (s *s3Store) path(name string) string { return "s3://" + s.bucket + "/" + s.key(name) }

// failed types an S3 error: a refusal is ErrObjectStore (retried only
// for a server error or throttling), no answer at all ErrUnreachable.
func (s *s3Store) failed(what string, err error) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return temporal.NewApplicationError(fmt.Sprintf("%s: %s: %v", s.action, what, err), plan.ErrUnreachable)
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	msg := fmt.Sprintf("%s: %s: %s (HTTP %d)", s.action, what, api.ErrorCode(), status)
	if m := api.ErrorMessage(); m != "" {
		msg = fmt.Sprintf("%s: %s: %s: %s (HTTP %d)", s.action, what, api.ErrorCode(), m, status)
	}
	if status >= 500 || api.ErrorCode() == "SlowDown" || api.ErrorCode() == "RequestTimeout" {
		return temporal.NewApplicationError(msg, ErrObjectStore)
	}
	return temporal.NewNonRetryableApplicationError(msg, ErrObjectStore, nil)
}

// notFound reports whether err says the object is not there.
func notFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	return errors.As(err, &nsk) || errors.As(err, &nf)
}

func (s *s3Store) names(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.key(prefix + "-")), Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.failed("listing "+s.path(prefix+"-"), err)
		}
		for _, o := range page.Contents {
			out = append(out, strings.TrimPrefix(aws.ToString(o.Key), s.dir))
		}
	}
	return out, nil
}

func (s *s3Store) manifest(ctx context.Context, name string) (*Manifest, error) {
	p := s.path(ManifestPath(name))
	o, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(ManifestPath(name)))})
	if notFound(err) {
		return nil, fmt.Errorf("no manifest: %s does not exist", p)
	}
	if err != nil {
		return nil, s.failed("reading "+p, err)
	}
	defer o.Body.Close()
	b, err := io.ReadAll(o.Body)
	if err != nil {
		return nil, s.failed("reading "+p, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("unreadable manifest: %w", err)
	}
	return &m, nil
}

func (s *s3Store) exists(ctx context.Context, name string) (bool, error) {
	_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(name))})
	if notFound(err) {
		return false, nil
	}
	if err != nil {
		return false, s.failed("looking up "+s.path(name), err)
	}
	return true, nil
}

func (s *s3Store) prepare(context.Context) error { return nil } // buckets are the operator's to make

// tempDir is a private directory under the worker's TMPDIR.
func tempDir() (string, func(), error) {
	dir, err := os.MkdirTemp("", "runbook-backup-")
	if err != nil {
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

func (s *s3Store) stage(name string) (string, func(), error) {
	dir, done, err := tempDir()
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(dir, name), done, nil
}

func (s *s3Store) put(ctx context.Context, name, file string, m *Manifest) error {
	if err := s.upload(ctx, name, file); err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(ManifestPath(name))), Body: bytes.NewReader(b),
		ContentType: aws.String("application/json"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:]))})
	if err != nil {
		return s.failed("uploading "+s.path(ManifestPath(name)), err)
	}
	return nil
}

// upload sends file to name by multipart, each part of s3PartSize with
// its SHA-256 for the server to check, and aborts the upload on failure
// so that no parts are left stored.
func (s *s3Store) upload(ctx context.Context, name, file string) (err error) {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	key, where := aws.String(s.key(name)), "uploading "+s.path(name)
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: key,
		ContentType: aws.String("application/octet-stream"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	if err != nil {
		return s.failed(where, err)
	}
	defer func() {
		if err != nil {
			_, aerr := s.client.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: key, UploadId: up.UploadId})
			if aerr != nil {
				err = alsoFailed(err, "aborting the upload", aerr)
			}
		}
	}()
	var parts []types.CompletedPart
	for off, n := int64(0), int32(1); off < st.Size() || n == 1; off, n = off+s3PartSize, n+1 {
		size := min(s3PartSize, st.Size()-off)
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, off, size)); err != nil {
			return err
		}
		sum := base64.StdEncoding.EncodeToString(h.Sum(nil))
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: &s.bucket, Key: key, UploadId: up.UploadId, PartNumber: aws.Int32(n),
			Body: io.NewSectionReader(f, off, size), ContentLength: aws.Int64(size), ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: &sum})
		if err != nil {
			return s.failed(fmt.Sprintf("%s, part %d", where, n), err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n), ChecksumSHA256: &sum})
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &s.bucket, Key: key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		return s.failed(where, err)
	}
	return nil
}

func (s *s3Store) fetch(ctx context.Context, name string) (string, func(), error) {
	o, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(name))})
	if notFound(err) {
		return "", nil, fmt.Errorf("no archive: %s does not exist", s.path(name))
	}
	if err != nil {
		return "", nil, s.failed("downloading "+s.path(name), err)
	}
	defer o.Body.Close()
	dir, done, err := tempDir()
	if err != nil {
		return "", nil, err
	}
	file := filepath.Join(dir, name)
	f, err := createPrivate(file)
	if err == nil {
		_, err = io.Copy(f, o.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		done()
		return "", nil, s.failed("downloading "+s.path(name), err)
	}
	return file, done, nil
}

func (s *s3Store) remove(ctx context.Context, name string) error {
	for _, n := range []string{name, ManifestPath(name)} {
		if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(n))}); err != nil && !notFound(err) {
			return s.failed("removing "+s.path(n), err)
		}
	}
	return nil
}

// clean aborts the incomplete multipart uploads of prefix's backups
// older than the one starting at now, started partialIdle ago or more:
// what a crashed backup left (S3 keeps their parts, and bills them,
// until they are aborted). It is best effort: a server that cannot list
// uploads leaves them.
func (s *s3Store) clean(ctx context.Context, prefix string, now time.Time) []any {
	out := []any{}
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: aws.String(s.key(prefix + "-"))}
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return out
		}
		for _, u := range page.Uploads {
			name := strings.TrimPrefix(aws.ToString(u.Key), s.dir)
			if _, at, ok := parseBackupName(prefix, name); !ok || !at.Before(now.Truncate(time.Second)) || u.Initiated == nil || now.Sub(*u.Initiated) < partialIdle {
				continue
			}
			if _, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: u.Key, UploadId: u.UploadId}); err == nil {
				out = append(out, s.path(name))
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			return out
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}
