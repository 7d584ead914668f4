package allinone

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/all/internal/devsecrets"
)

// childEnv marks the re-executed test binary that runs the system. A child
// process is needed because the embedded S3 server allows one instance per
// process and changes its working directory.
const childEnv = "NF_ALLINONE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		cfg, err := config.Load[Config]()
		if err == nil {
			err = Run(ctx, cfg, "test")
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRestartKeepsData starts the system, stores a MongoDB document and an S3
// object through the embedded servers, stops it with SIGTERM, starts it again
// on the same DATA_DIR and reads both back.
func TestRestartKeepsData(t *testing.T) {
	dataDir := t.TempDir()
	port := freePort(t)

	first := startChild(t, dataDir, port)
	eps := readEndpoints(t, dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	checkDevTokenFlow(t, port)

	db := mongoDB(t, eps)
	if _, err := db.Collection("restart_probe").InsertOne(ctx, bson.D{{Key: "_id", Value: "probe"}, {Key: "n", Value: 42}}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	s3 := s3Client(t, eps)
	payload := bytes.Repeat([]byte("nonefinity"), 1000)
	if _, err := s3.PutObject(ctx, eps.S3Bucket, "users/u1/raw/probe.bin", bytes.NewReader(payload), int64(len(payload)), minio.PutObjectOptions{}); err != nil {
		t.Fatalf("put object: %v", err)
	}
	stopChild(t, first)

	startChild(t, dataDir, port)
	eps = readEndpoints(t, dataDir)
	var doc struct {
		N int `bson:"n"`
	}
	if err := mongoDB(t, eps).Collection("restart_probe").FindOne(ctx, bson.D{{Key: "_id", Value: "probe"}}).Decode(&doc); err != nil {
		t.Fatalf("document lost across restart: %v", err)
	}
	if doc.N != 42 {
		t.Fatalf("document changed across restart: n=%d", doc.N)
	}
	obj, err := s3Client(t, eps).GetObject(ctx, eps.S3Bucket, "users/u1/raw/probe.bin", minio.GetObjectOptions{})
	if err != nil {
		t.Fatalf("get object: %v", err)
	}
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("object lost across restart: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("object changed across restart: %d bytes", len(got))
	}
	// The generated development secrets are reused, not regenerated.
	if _, err := os.Stat(filepath.Join(dataDir, devsecrets.File)); err != nil {
		t.Fatalf("dev secrets not kept: %v", err)
	}
}

// child is one run of the system in a re-executed test binary.
type child struct {
	cmd    *exec.Cmd
	exited chan error
	out    *testkit.SyncBuffer
}

// startChild runs the system and returns once it printed its banner, which it
// does only after its own /health answered 200.
func startChild(t *testing.T, dataDir string, port int) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childEnv+"=1",
		"DATA_DIR="+dataDir,
		"APP_ENV=dev",
		"APP_HOST=127.0.0.1",
		"APP_PORT="+strconv.Itoa(port),
		"LOG_LEVEL=warn",
		"CREDENTIAL_SECRET_KEY=",
		"CREDENTIAL_ENCRYPTION_SALT=",
	)
	out := &testkit.SyncBuffer{}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = out
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	c := &child{cmd: cmd, exited: make(chan error, 1), out: out}
	banner := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		seen := false
		for sc.Scan() {
			out.Write(append(sc.Bytes(), '\n'))
			if !seen && strings.Contains(sc.Text(), "Nonefinity is running") {
				seen = true
				close(banner)
			}
		}
		c.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	select {
	case <-banner:
	case err := <-c.exited:
		t.Fatalf("child exited before serving: %v\n%s", err, out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("child printed no banner within 60s\n%s", out.String())
	}
	t.Logf("startup to banner (after /health 200): %s", time.Since(started).Round(time.Millisecond))
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/health")
	if err != nil {
		t.Fatalf("GET /health: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /health = %d", resp.StatusCode)
	}
	return c
}

func stopChild(t *testing.T, c *child) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal child: %v", err)
	}
	select {
	case err := <-c.exited:
		if err != nil {
			t.Fatalf("child exited with %v after SIGTERM\n%s", err, c.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("child did not stop within 30s of SIGTERM\n%s", c.out.String())
	}
}

func readEndpoints(t *testing.T, dataDir string) Endpoints {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, EndpointsFile))
	if err != nil {
		t.Fatalf("read endpoints: %v", err)
	}
	var eps Endpoints
	if err := json.Unmarshal(b, &eps); err != nil {
		t.Fatalf("decode endpoints: %v", err)
	}
	return eps
}

func mongoDB(t *testing.T, eps Endpoints) *mongo.Database {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(eps.MongoURI))
	if err != nil {
		t.Fatalf("mongo connect: %v", err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	return client.Database(eps.MongoDB)
}

func s3Client(t *testing.T, eps Endpoints) *minio.Client {
	t.Helper()
	c, err := minio.New(eps.S3Endpoint, &minio.Options{Creds: credentials.NewStaticV4(eps.S3AccessKey, eps.S3SecretKey, "")})
	if err != nil {
		t.Fatalf("s3 client: %v", err)
	}
	return c
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// devToken mints a dev token for user_1 as the banner shows.
func devToken(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/api/v1/auth/create-token?clerk_id=user_1")
	if err != nil {
		t.Fatalf("create-token: %v", err)
	}
	var minted struct {
		Data struct {
			Token string `json:"token"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&minted)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || minted.Data.Token == "" {
		t.Fatalf("create-token = %d, %v, token %q", resp.StatusCode, err, minted.Data.Token)
	}
	return minted.Data.Token
}

// checkDevTokenFlow does what the banner tells a newcomer: mint a dev token
// and call an authenticated route with it.
func checkDevTokenFlow(t *testing.T, port int) {
	t.Helper()
	base := "http://127.0.0.1:" + strconv.Itoa(port) + "/api/v1"
	req, _ := http.NewRequest(http.MethodGet, base+"/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+devToken(t, port))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("auth/me: %v", err)
	}
	var me struct {
		Data struct {
			ID      string `json:"id"`
			ClerkID string `json:"clerk_id"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || me.Data.ClerkID != "user_1" || len(me.Data.ID) != 24 {
		t.Fatalf("auth/me = %d, %v, %+v", resp.StatusCode, err, me.Data)
	}
}
