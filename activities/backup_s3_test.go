package activities

import (
	"bytes"
	"context"
	"crypto/rand"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	"go.temporal.io/sdk/temporal"

	"github.com/opsrunbook/runbook/activities/internal/s3test"
	"github.com/opsrunbook/runbook/plan"
)

// The backup actions against a real S3-compatible server process
// (gofakes3, see package s3test for why that one).

// s3Dest is a test's S3 server and a destination in it.
type s3Dest struct {
	srv  *s3test.Server
	dest string // s3://BUCKET/KEYPREFIX
}

func newS3Dest(t *testing.T, flags ...string) *s3Dest {
	t.Helper()
	srv := s3test.Start(t, "backups", flags...)
	// Temporary archives go under TMPDIR: each test checks none is left.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Cleanup(func() {
		if left, _ := os.ReadDir(tmp); len(left) > 0 {
			t.Errorf("temporary files left in TMPDIR: %v", left)
		}
	})
	// No credentials from the test's environment: only the inputs'.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return &s3Dest{srv: srv, dest: "s3://backups/nightly/eu"}
}

// in is inputs with the server's s3 inputs added.
func (d *s3Dest) in(in map[string]any) map[string]any {
	out := d.srv.Inputs()
	maps.Copy(out, in)
	return out
}

func (d *s3Dest) run(t *testing.T, spec *plan.ActionSpec, in map[string]any) (map[string]any, error) {
	t.Helper()
	return runAction(t, spec, d.in(in))
}

// store is the destination as the actions see it.
func (d *s3Dest) store(t *testing.T) *s3Store {
	t.Helper()
	bucket, key, err := parseS3URL("test", "destination", d.dest, false)
	if err != nil {
		t.Fatal(err)
	}
	var o s3Options
	o.S3Region, o.S3Endpoint, o.S3PathStyle, o.S3AccessKeyID, o.S3SecretAccessKey = "us-east-1", d.srv.Endpoint, true, s3test.AccessKey, s3test.SecretKey
	s, err := newS3Store(context.Background(), "test", bucket, key, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// objects lists every key in the bucket.
func (d *s3Dest) objects(t *testing.T) []string {
	t.Helper()
	s := d.store(t)
	out, err := s.client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &s.bucket})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// upload stores local backups (from fakeBackups) in the destination as
// backup actions do, and returns their s3:// paths.
func (d *s3Dest) upload(t *testing.T, local []string) []string {
	t.Helper()
	s := d.store(t)
	var out []string
	for _, p := range local {
		m, err := readManifest(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.put(context.Background(), filepath.Base(p), p, m); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.path(filepath.Base(p)))
	}
	return out
}

func TestS3BackupFilesListVerifyRestore(t *testing.T) {
	d := newS3Dest(t)
	src := t.TempDir()
	tree := map[string]string{"a.txt": "alpha", "sub/b.bin": strings.Repeat("b", 100000), "sub/deep/c": ""}
	writeTree(t, src, tree)
	out, err := d.run(t, BackupFilesSpec, map[string]any{"source": src, "destination": d.dest, "prefix": "uploads"})
	if err != nil {
		t.Fatal(err)
	}
	path := out["path"].(string)
	name := strings.TrimPrefix(path, "s3://backups/nightly/eu/")
	if _, _, ok := parseBackupName("uploads", name); !ok || out["files"] != int64(3) || out["manifest"] != path+".manifest.json" || !reflect.DeepEqual(out["cleaned"], []any{}) {
		t.Errorf("outputs = %v", out)
	}
	if got, want := d.objects(t), []string{"nightly/eu/" + name, "nightly/eu/" + name + ".manifest.json"}; !reflect.DeepEqual(got, want) {
		t.Errorf("the bucket holds %v, want %v", got, want)
	}
	l, err := d.run(t, BackupListSpec, map[string]any{"destination": d.dest, "prefix": "uploads"})
	if err != nil || l["latest"] != path || l["count"] != int64(1) {
		t.Errorf("list: %v %v", l, err)
	}
	if l, err := d.run(t, BackupListSpec, map[string]any{"destination": "s3://backups/elsewhere", "prefix": "uploads"}); err != nil || l["count"] != int64(0) || l["latest"] != "" {
		t.Errorf("list of an empty key prefix: %v %v", l, err)
	}
	v, err := d.run(t, BackupVerifySpec, map[string]any{"path": path})
	if err != nil || v["ok"] != true || v["files"] != int64(3) {
		t.Errorf("verify: %v %v", v, err)
	}
	target := t.TempDir()
	r, err := d.run(t, RestoreFilesSpec, map[string]any{"path": path, "target": target})
	if err != nil || r["files"] != int64(3) {
		t.Fatalf("restore: %v %v", r, err)
	}
	for name, body := range tree {
		if got, err := os.ReadFile(filepath.Join(target, name)); err != nil || string(got) != body {
			t.Errorf("%s restored as %d bytes, %v", name, len(got), err)
		}
	}
	// A path naming no backup, and the wrong kind.
	v, err = d.run(t, BackupVerifySpec, map[string]any{"path": "s3://backups/nightly/eu/uploads-20200101T000000Z.tar.gz"})
	if err != nil || v["ok"] != false || v["reason"] != "no manifest: s3://backups/nightly/eu/uploads-20200101T000000Z.tar.gz.manifest.json does not exist" {
		t.Errorf("verify of nothing: %v %v", v, err)
	}
	_, err = d.run(t, RestorePostgresSpec, map[string]any{"path": path, "dsn": pgDSN("never")})
	if want := "BadInput: restore.postgres: " + path + " is a files backup, not a database dump"; failure(err) != want {
		t.Errorf("restore.postgres of a files backup: %s", failure(err))
	}
}

// One flipped byte in the stored archive: verify says why, restore
// refuses it and writes nothing.
func TestS3CorruptedObjectFailsVerify(t *testing.T) {
	d := newS3Dest(t)
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a": strings.Repeat("data", 1000)})
	out, err := d.run(t, BackupFilesSpec, map[string]any{"source": src, "destination": d.dest, "prefix": "app"})
	if err != nil {
		t.Fatal(err)
	}
	path := out["path"].(string)
	s := d.store(t)
	name := filepath.Base(path)
	file, done, err := s.fetch(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	done()
	b[len(b)/2] ^= 0xff
	if _, err := s.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &s.bucket, Key: aws.String(s.key(name)), Body: bytes.NewReader(b)}); err != nil {
		t.Fatal(err)
	}
	v, err := d.run(t, BackupVerifySpec, map[string]any{"path": path})
	if err != nil || v["ok"] != false || !strings.HasPrefix(v["reason"].(string), "checksum mismatch: the manifest says "+out["sha256"].(string)) {
		t.Errorf("verify: %v %v", v, err)
	}
	target := t.TempDir()
	_, err = d.run(t, RestoreFilesSpec, map[string]any{"path": path, "target": target})
	if app, ok := err.(*temporal.ApplicationError); !ok || app.Type() != ErrBackupInvalid || !app.NonRetryable() || !strings.HasPrefix(app.Message(), "restore.files: the backup does not verify: checksum mismatch") {
		t.Errorf("restore: %s", failure(err))
	}
	if left, _ := os.ReadDir(target); len(left) != 0 {
		t.Errorf("a refused restore wrote %v", left)
	}
}

func TestS3BackupAndRestorePostgres(t *testing.T) {
	src := pgDatabase(t, "s3src")
	pgExec(t, src, `CREATE TABLE orders (id serial PRIMARY KEY, total int);
		INSERT INTO orders (total) SELECT g FROM generate_series(1, 120) g`)
	d := newS3Dest(t)
	out, err := d.run(t, BackupPostgresSpec, map[string]any{"dsn": pgDSN(src), "destination": d.dest, "prefix": "shop", "noOwner": true})
	if err != nil {
		t.Fatal(err)
	}
	path := out["path"].(string)
	if !strings.HasPrefix(path, "s3://backups/nightly/eu/shop-") || !strings.HasSuffix(path, ".dump") || out["manifest"] != path+".manifest.json" {
		t.Errorf("outputs = %v", out)
	}
	m, err := d.store(t).manifest(context.Background(), filepath.Base(path))
	if err != nil || m.Kind != KindPostgres || m.Prefix != "shop" || m.SHA256 != out["sha256"] || !reflect.DeepEqual(m.Options, []string{"--no-owner"}) {
		t.Errorf("manifest %+v, %v", m, err)
	}
	if v, err := d.run(t, BackupVerifySpec, map[string]any{"path": path}); err != nil || v["ok"] != true || v["files"].(int64) < 2 {
		t.Errorf("verify: %v %v", v, err)
	}
	// The same prefix for another database is refused.
	other := pgDatabase(t, "s3other")
	_, err = d.run(t, BackupPostgresSpec, map[string]any{"dsn": pgDSN(other), "destination": d.dest, "prefix": "shop"})
	if f := failure(err); !strings.HasPrefix(f, "BadInput: backup.postgres: "+d.dest+" already holds backups named shop-… of ") {
		t.Errorf("shared prefix: %s", f)
	}
	target := pgDatabase(t, "s3dst")
	pgExec(t, "postgres", "DROP DATABASE "+target)
	r, err := d.run(t, RestorePostgresSpec, map[string]any{"path": path, "dsn": pgDSN(target), "createDatabase": true})
	if err != nil || !reflect.DeepEqual(r["rows"], map[string]any{"public.orders": int64(120)}) {
		t.Errorf("restore: %v %v", r, err)
	}
}

// Prune over the bucket: keep N, and the newest backup that verifies
// stays even when the newer ones are corrupt; other prefixes are left.
func TestS3BackupPrune(t *testing.T) {
	d := newS3Dest(t)
	b := d.upload(t, fakeBackups(t, t.TempDir(), "db", 4, map[int]bool{2: true, 3: true}))
	others := d.upload(t, fakeBackups(t, t.TempDir(), "db-replica", 2, nil))
	out, err := d.run(t, BackupPruneSpec, map[string]any{"destination": d.dest, "prefix": "db", "keep": 2, "dryRun": true})
	if err != nil || !reflect.DeepEqual(out["kept"], []any{b[3], b[2], b[1]}) || !reflect.DeepEqual(out["removed"], []any{b[0]}) {
		t.Fatalf("dry run: %v %v", out, err)
	}
	if len(d.objects(t)) != 12 {
		t.Fatalf("a dry run removed objects: %v", d.objects(t))
	}
	out, err = d.run(t, BackupPruneSpec, map[string]any{"destination": d.dest, "prefix": "db", "keep": 2})
	if err != nil || !reflect.DeepEqual(out["kept"], []any{b[3], b[2], b[1]}) || !reflect.DeepEqual(out["removed"], []any{b[0]}) {
		t.Fatalf("prune: %v %v", out, err)
	}
	var want []string
	for _, p := range append(b[1:], others...) {
		k := strings.TrimPrefix(p, "s3://backups/")
		want = append(want, k, k+".manifest.json")
	}
	slices.Sort(want)
	if got := d.objects(t); !reflect.DeepEqual(got, want) {
		t.Errorf("left in the bucket:\n%v\nwant\n%v", got, want)
	}
}

// Prefix db never takes db-replica's backups in a bucket either.
func TestS3BackupPrefixesMatchExactly(t *testing.T) {
	d := newS3Dest(t)
	db := d.upload(t, fakeBackups(t, t.TempDir(), "db", 1, nil))
	replica := d.upload(t, fakeBackups(t, t.TempDir(), "db-replica", 3, nil))
	out, err := d.run(t, BackupListSpec, map[string]any{"destination": d.dest, "prefix": "db"})
	if err != nil || out["latest"] != db[0] || out["count"] != int64(1) {
		t.Errorf("list db: %v %v", out, err)
	}
	out, err = d.run(t, BackupListSpec, map[string]any{"destination": d.dest, "prefix": "db-replica"})
	if err != nil || !reflect.DeepEqual(out["backups"], []any{replica[2], replica[1], replica[0]}) {
		t.Errorf("list db-replica: %v %v", out, err)
	}
	out, err = d.run(t, BackupPruneSpec, map[string]any{"destination": d.dest, "prefix": "db", "maxAge": "1h"})
	if err != nil || !reflect.DeepEqual(out["kept"], []any{db[0]}) || len(out["removed"].([]any)) != 0 {
		t.Errorf("prune db: %v %v", out, err)
	}
	if n := len(d.objects(t)); n != 8 {
		t.Errorf("%d objects left, want 8", n)
	}
	// Backing up another source under a prefix in use is refused.
	src := t.TempDir()
	writeTree(t, src, map[string]string{"x": "other"})
	_, err = d.run(t, BackupFilesSpec, map[string]any{"source": src, "destination": d.dest, "prefix": "db"})
	if f := failure(err); !strings.HasPrefix(f, "BadInput: backup.files: "+d.dest+" already holds backups named db-… of ") || !strings.HasSuffix(f, ", not "+src+"; give each source its own prefix") {
		t.Errorf("shared prefix: %s", f)
	}
}

// An archive bigger than a part goes up in several parts, each with its
// checksum, and comes back whole.
func TestS3MultipartUpload(t *testing.T) {
	d := newS3Dest(t)
	defer func(n int64) { s3PartSize = n }(s3PartSize)
	s3PartSize = 5 << 20 // S3's smallest part
	var parts, completes atomic.Int32
	defer func(o []func(*s3.Options)) { s3ClientOptions = o }(s3ClientOptions)
	s3ClientOptions = []func(*s3.Options){func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("count", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				switch middleware.GetOperationName(ctx) {
				case "UploadPart":
					if p, ok := in.Parameters.(*s3.UploadPartInput); ok && p.ChecksumSHA256 != nil {
						parts.Add(1)
					}
				case "CompleteMultipartUpload":
					completes.Add(1)
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
		})
	}}
	src := t.TempDir()
	big := make([]byte, 12<<20) // incompressible: the archive is as big
	rand.Read(big)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := d.run(t, BackupFilesSpec, map[string]any{"source": src, "destination": d.dest, "prefix": "big"})
	if err != nil {
		t.Fatal(err)
	}
	if parts.Load() != 3 || completes.Load() != 1 || out["bytes"].(int64) < 12<<20 {
		t.Errorf("%d parts with checksums, %d completed uploads, %v bytes; want 3 and 1", parts.Load(), completes.Load(), out["bytes"])
	}
	target := t.TempDir()
	if r, err := d.run(t, RestoreFilesSpec, map[string]any{"path": out["path"], "target": target}); err != nil || r["bytes"] != int64(len(big)) {
		t.Fatalf("restore: %v %v", r, err)
	}
	if got, _ := os.ReadFile(filepath.Join(target, "big.bin")); !bytes.Equal(got, big) {
		t.Error("the restored file differs")
	}
}

// Incomplete multipart uploads a crashed backup of the prefix left are
// aborted by the next backup; a live one and other prefixes' are left.
func TestS3BackupAbortsStaleUploads(t *testing.T) {
	// The server's clock runs an hour behind: uploads it starts now look
	// an hour old to the backup.
	d := newS3Dest(t, "-clock-offset", "-1h")
	s := d.store(t)
	ctx := context.Background()
	start := func(name string) {
		if _, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: aws.String(s.key(name))}); err != nil {
			t.Fatal(err)
		}
	}
	stale := backupName("app", filesArchive, time.Now().Add(-time.Hour))
	other := backupName("app-replica", filesArchive, time.Now().Add(-time.Hour))
	start(stale)
	start(other)
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a": "alpha"})
	out, err := d.run(t, BackupFilesSpec, map[string]any{"source": src, "destination": d.dest, "prefix": "app"})
	if err != nil || !reflect.DeepEqual(out["cleaned"], []any{s.path(stale)}) {
		t.Fatalf("cleaned: %v %v", out, err)
	}
	left, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &s.bucket})
	if err != nil || len(left.Uploads) != 1 || aws.ToString(left.Uploads[0].Key) != s.key(other) {
		t.Errorf("uploads left: %+v %v", left, err)
	}
}

// Wrong credentials fail clearly and are not retried; a server that does
// not answer is Unreachable, retried.
func TestS3WrongCredentials(t *testing.T) {
	d := newS3Dest(t)
	in := map[string]any{"destination": d.dest, "prefix": "db", "s3AccessKeyId": "AKIAWRONGWRONGWRONG1"}
	_, err := d.run(t, BackupListSpec, in)
	want := "ObjectStore: backup.list: listing s3://backups/nightly/eu/db-: InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records. (HTTP 403)"
	if app, ok := err.(*temporal.ApplicationError); failure(err) != want || !ok || !app.NonRetryable() {
		t.Errorf("got  %s\nwant %s", failure(err), want)
	}
	src := t.TempDir()
	writeTree(t, src, map[string]string{"a": "alpha"})
	in = map[string]any{"source": src, "destination": d.dest, "prefix": "app", "s3AccessKeyId": "AKIAWRONGWRONGWRONG1"}
	if _, err := d.run(t, BackupFilesSpec, in); !strings.HasPrefix(failure(err), "ObjectStore: backup.files: listing s3://backups/nightly/eu/app-: InvalidAccessKeyId") {
		t.Errorf("backup with wrong credentials: %s", failure(err))
	}
	v, err := d.run(t, BackupVerifySpec, map[string]any{"path": d.dest + "/app-20200101T000000Z.tar.gz", "s3AccessKeyId": "AKIAWRONGWRONGWRONG1"})
	if !strings.HasPrefix(failure(err), "ObjectStore: backup.verify: reading s3://backups/nightly/eu/app-20200101T000000Z.tar.gz.manifest.json: InvalidAccessKeyId") {
		t.Errorf("verify with wrong credentials (a failure, not a bad backup): %v %s", v, failure(err))
	}
	_, err = d.run(t, BackupListSpec, map[string]any{"destination": d.dest, "prefix": "db", "s3Endpoint": "http://127.0.0.1:1"})
	if app, ok := err.(*temporal.ApplicationError); !ok || app.Type() != plan.ErrUnreachable || app.NonRetryable() || !strings.HasPrefix(app.Message(), "backup.list: listing s3://backups/nightly/eu/db-: ") {
		t.Errorf("nothing listening: %s", failure(err))
	}
}

// Bad s3 inputs are refused before anything is sent.
func TestS3BadInputs(t *testing.T) {
	local := t.TempDir()
	bucketRule := "is not a valid S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit, not an IP address)"
	keyRule := "must be segments separated by single '/', none empty, '.' or '..', without control characters"
	for _, tt := range []struct {
		name string
		spec *plan.ActionSpec
		in   map[string]any
		want string
	}{
		{"s3 inputs with a local destination", BackupListSpec, map[string]any{"destination": local, "prefix": "db", "s3Endpoint": "http://127.0.0.1:9000", "s3AccessKeyId": "AKIA"},
			"BadInput: backup.list: s3Endpoint, s3AccessKeyId are for an s3:// destination; " + local + " is local"},
		{"a region with a local path", BackupVerifySpec, map[string]any{"path": local + "/db-20200101T000000Z.dump", "s3Region": "eu-west-1"},
			"BadInput: backup.verify: s3Region are for an s3:// path; " + local + "/db-20200101T000000Z.dump is local"},
		{"path style with a local destination", BackupPruneSpec, map[string]any{"destination": local, "prefix": "db", "keep": 1, "s3PathStyle": true},
			"BadInput: backup.prune: s3PathStyle are for an s3:// destination; " + local + " is local"},
		{"an upper-case bucket", BackupListSpec, map[string]any{"destination": "s3://Backups/x", "prefix": "db"},
			`BadInput: backup.list: destination "s3://Backups/x": bucket "Backups" ` + bucketRule},
		{"an IP address bucket", BackupListSpec, map[string]any{"destination": "s3://10.0.0.1/x", "prefix": "db"},
			`BadInput: backup.list: destination "s3://10.0.0.1/x": bucket "10.0.0.1" ` + bucketRule},
		{"no bucket", BackupListSpec, map[string]any{"destination": "s3:///x", "prefix": "db"},
			`BadInput: backup.list: destination "s3:///x": bucket "" ` + bucketRule},
		{"traversal in the key prefix", BackupFilesSpec, map[string]any{"source": local, "destination": "s3://backups/a/../b", "prefix": "db"},
			`BadInput: backup.files: destination "s3://backups/a/../b": key prefix "a/../b" ` + keyRule},
		{"a trailing slash", BackupListSpec, map[string]any{"destination": "s3://backups/a/", "prefix": "db"},
			`BadInput: backup.list: destination "s3://backups/a/": key prefix "a/" ` + keyRule},
		{"a path without a key", RestoreFilesSpec, map[string]any{"path": "s3://backups", "target": local},
			`BadInput: restore.files: path "s3://backups" names no object: write s3://BUCKET/KEY`},
		{"a key id without its secret", BackupListSpec, map[string]any{"destination": "s3://backups", "prefix": "db", "s3AccessKeyId": "AKIA"},
			"BadInput: backup.list: s3AccessKeyId and s3SecretAccessKey go together: give both, or neither for the AWS SDK's default credential chain"},
		{"a session token alone", BackupListSpec, map[string]any{"destination": "s3://backups", "prefix": "db", "s3SessionToken": "tok"},
			"BadInput: backup.list: s3SessionToken needs s3AccessKeyId and s3SecretAccessKey"},
		{"an endpoint that is not a URL", BackupListSpec, map[string]any{"destination": "s3://backups", "prefix": "db", "s3Endpoint": "127.0.0.1:9000"},
			`BadInput: backup.list: s3Endpoint "127.0.0.1:9000" must be an http:// or https:// URL of a server, without user, query or fragment`},
		{"a bad region", BackupListSpec, map[string]any{"destination": "s3://backups", "prefix": "db", "s3Region": "eu west"},
			`BadInput: backup.list: s3Region "eu west" is not a region name`},
		{"a bad prefix first", BackupListSpec, map[string]any{"destination": "s3://backups", "prefix": "../db"},
			`BadInput: backup.list: prefix "../db" must be 1 to 100 letters, digits, '_', '-' or '.', starting with a letter or digit, without '..' or '/'`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := runAction(t, tt.spec, tt.in); failure(err) != tt.want {
				t.Errorf("got  %s\nwant %s", failure(err), tt.want)
			}
		})
	}
}
