package all_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/healthv1"
	"github.com/nonefinity/backend/pkg/boot"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/testkit"
	credential "github.com/nonefinity/backend/services/credential/app"
	datasetquery "github.com/nonefinity/backend/services/datasetquery/app"
	fileingest "github.com/nonefinity/backend/services/fileingest/app"
)

// Each service run alone (boot.Open with OPS_ADDR, as its cmd does) serves
// /health with its dependency checks and /metrics with its request,
// consumer and domain metrics on the ops port.
func TestEachServiceAloneServesOpsEndpoints(t *testing.T) {
	ns := testkit.NATS(t)
	s3 := testkit.S3(t)
	environ := map[string]string{
		"NATS_URL": ns.URL, "DATA_DIR": t.TempDir(), "OPS_ADDR": "127.0.0.1:0",
		"MONGO_URI": testkit.MongoURI(t), "MONGO_DB": "ops_endpoints_test",
		"MINIO_URL": "http://" + s3.Endpoint, "MINIO_ACCESS_KEY": s3.AccessKey, "MINIO_SECRET_KEY": s3.SecretKey, "MINIO_BUCKET": s3.Bucket,
		"CREDENTIAL_SECRET_KEY": "ops-test-secret", "CREDENTIAL_ENCRYPTION_SALT": "ops-test-salt",
	}
	base := loadConfig[config.Base](t, environ)
	type service struct {
		name, subject string
		store         bool
		run           func(context.Context, *boot.Infra) error
		// metrics the scrape must show besides the request metrics.
		metrics []string
	}
	// Every metric a service registers, for the dashboard check below.
	described := map[string]bool{}
	erasureLag := func(durable string) string {
		return natsx.MetricConsumerPending + `{durable="` + durable + `"`
	}
	for _, s := range []service{
		{credential.Name, contracts.ServiceCredential, false, func(ctx context.Context, in *boot.Infra) error {
			return credential.Run(ctx, loadConfig[credential.Config](t, environ), credential.Deps{NC: in.NC, DB: in.DB, Log: in.Log, Metrics: in.Metrics})
		}, []string{"nonefinity_key_test_duration_seconds_count", erasureLag(contracts.DurableCredentialUserErase)}},
		{fileingest.Name, contracts.ServiceFile, true, func(ctx context.Context, in *boot.Infra) error {
			return fileingest.Run(ctx, loadConfig[fileingest.Config](t, environ), fileingest.Deps{NC: in.NC, DB: in.DB, Store: in.Store, Log: in.Log, Metrics: in.Metrics})
		}, []string{erasureLag(contracts.DurableFileProcess), erasureLag(contracts.DurableFileUserErase)}},
		{datasetquery.Name, contracts.ServiceDataset, true, func(ctx context.Context, in *boot.Infra) error {
			return datasetquery.Run(ctx, loadConfig[datasetquery.Config](t, environ), datasetquery.Deps{NC: in.NC, DB: in.DB, Store: in.Store, Log: in.Log, Metrics: in.Metrics})
		}, []string{"nonefinity_query_duration_seconds_count", "nonefinity_conversion_duration_seconds_count",
			erasureLag(contracts.DurableDatasetConvert), erasureLag(contracts.DurableDatasetUserErase)}},
	} {
		t.Run(s.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			infra, err := boot.Open(ctx, base, boot.Options{Service: s.name, Version: "test", Mongo: true, Store: s.store, Log: logx.Discard()})
			if err != nil {
				t.Fatal(err)
			}
			defer infra.Close(context.Background())
			if infra.OpsAddr() == "" {
				t.Fatal("OPS_ADDR set but no ops server")
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- s.run(runCtx, infra) }()
			defer func() {
				stop()
				if err := <-done; err != nil {
					t.Errorf("%s: %v", s.name, err)
				}
			}()

			// One request, so the request metrics have a series.
			client := natsx.NewClient(ns.Conn(t))
			deadline, _ := ctx.Deadline()
			testkit.Eventually(t, time.Until(deadline), func() error {
				cctx, ccancel := context.WithTimeout(ctx, time.Second)
				defer ccancel()
				reply, err := natsx.Call[healthv1.Reply](cctx, client, healthv1.Subject(s.subject), healthv1.Request{})
				if err == nil && reply.Status == healthv1.StatusOK {
					return nil
				}
				return fmt.Errorf("%s never answered health: %v", s.name, err)
			})

			status, body := httpGet(t, "http://"+infra.OpsAddr()+"/health")
			var health healthv1.Reply
			if err := json.Unmarshal(body, &health); err != nil || status != http.StatusOK || health.Status != healthv1.StatusOK ||
				health.Checks["nats"] != "ok" || health.Checks["mongodb"] != "ok" || (s.store && health.Checks["object_storage"] != "ok") {
				t.Errorf("/health = %d %s", status, body)
			}

			want := append([]string{
				natsx.MetricRPCRequests + `{code="ok",endpoint="health",service="` + s.name + `"}`,
				natsx.MetricRPCDuration + `_count{endpoint="health",service="` + s.name + `"}`,
				"go_goroutines",
			}, s.metrics...)
			// The consumers start after the endpoints: scrape until they
			// are there too.
			testkit.Eventually(t, time.Until(deadline), func() error {
				status, body = httpGet(t, "http://"+infra.OpsAddr()+"/metrics")
				if status != http.StatusOK {
					t.Fatalf("/metrics = %d", status)
				}
				var missing []string
				for _, w := range want {
					if !strings.Contains(string(body), w) {
						missing = append(missing, w)
					}
				}
				if len(missing) > 0 {
					return fmt.Errorf("%s /metrics lacks %v", s.name, missing)
				}
				return nil
			})
			descs := make(chan *prometheus.Desc)
			go func() { infra.Metrics.Describe(descs); close(descs) }()
			for d := range descs {
				if m := fqName.FindStringSubmatch(d.String()); m != nil {
					described[m[1]] = true
				}
			}
		})
	}

	// The Grafana dashboard queries only metrics the services register.
	dashboard, err := os.ReadFile(filepath.Join(testkit.WorkDir(), "..", "..", "deploy", "grafana", "nonefinity.json"))
	if err != nil {
		t.Fatal(err)
	}
	var parsed map[string]any
	if err := json.Unmarshal(dashboard, &parsed); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	seen := 0
	for _, name := range dashboardMetric.FindAllString(string(dashboard), -1) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
		if !described[base] && !described[name] {
			t.Errorf("dashboard queries %s, which no service registers", name)
		}
		seen++
	}
	if seen < 10 {
		t.Errorf("dashboard names only %d nonefinity metrics", seen)
	}
}

var (
	fqName          = regexp.MustCompile(`fqName: "([^"]+)"`)
	dashboardMetric = regexp.MustCompile(`\bnonefinity_[a-z_]+`)
)

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
