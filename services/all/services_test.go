package all_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/client"
	"github.com/nonefinity/backend/contracts/healthv1"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/logx"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/pkg/testkit"
	credential "github.com/nonefinity/backend/services/credential/app"
	datasetquery "github.com/nonefinity/backend/services/datasetquery/app"
	fileingest "github.com/nonefinity/backend/services/fileingest/app"
	gateway "github.com/nonefinity/backend/services/gateway/app"
)

// TestServicesRegisterAndAnswerHealth runs the gateway and the three services
// on testkit infrastructure: each service is discoverable through micro
// (what `nats micro ls/info` shows), answers its health operation through the
// typed client, and the gateway's /ready names a service that is missing.
func TestServicesRegisterAndAnswerHealth(t *testing.T) {
	ns := testkit.NATS(t)
	db := testkit.Mongo(t)
	s3 := testkit.S3(t)
	store, err := objstore.New(objstore.Config{Endpoint: s3.Endpoint, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, Bucket: s3.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	environ := map[string]string{"NATS_URL": ns.URL, "DATA_DIR": t.TempDir(),
		"CREDENTIAL_SECRET_KEY": "services-test-secret", "CREDENTIAL_ENCRYPTION_SALT": "services-test-salt"}
	base := loadConfig[config.Base](t, environ)
	log := logx.Discard()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runServiceTB(t, "gateway", ns, func(ctx context.Context, nc *nats.Conn) error {
		return gateway.Run(ctx, gateway.Config{Base: base, Settings: gateway.DefaultSettings()}, gateway.Deps{NC: nc, DB: db, Log: log, Listener: ln})
	})
	readyURL := "http://" + ln.Addr().String() + "/ready"

	runServiceTB(t, "credential", ns, func(ctx context.Context, nc *nats.Conn) error {
		return credential.Run(ctx, loadConfig[credential.Config](t, environ), credential.Deps{NC: nc, DB: db, Log: log})
	})
	runServiceTB(t, "fileingest", ns, func(ctx context.Context, nc *nats.Conn) error {
		return fileingest.Run(ctx, loadConfig[fileingest.Config](t, environ), fileingest.Deps{NC: nc, DB: db, Store: store, Log: log})
	})

	nc := ns.Conn(t)
	waitMicroInfo(t, nc, credential.Name)
	waitMicroInfo(t, nc, fileingest.Name)

	// datasetquery is not running yet: /ready must say so, quickly.
	status, body := getJSON(t, readyURL)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("/ready with datasetquery down = %d, want 503: %s", status, body)
	}
	var env struct {
		Success bool `json:"success"`
		Errors  []struct {
			Code, Field string
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	if env.Success || len(env.Errors) != 1 || env.Errors[0].Field != contracts.ServiceDataset || env.Errors[0].Code != "unavailable" {
		t.Fatalf("/ready body = %s, want one unavailable error for %q", body, contracts.ServiceDataset)
	}

	runServiceTB(t, "datasetquery", ns, func(ctx context.Context, nc *nats.Conn) error {
		return datasetquery.Run(ctx, loadConfig[datasetquery.Config](t, environ), datasetquery.Deps{NC: nc, DB: db, Store: store, Log: log})
	})
	for _, want := range []struct{ name, subject string }{
		{credential.Name, contracts.ServiceCredential},
		{fileingest.Name, contracts.ServiceFile},
		{datasetquery.Name, contracts.ServiceDataset},
	} {
		info := waitMicroInfo(t, nc, want.name)
		if info.Version == "" || info.Description == "" {
			t.Errorf("%s micro info incomplete: %+v", want.name, info)
		}
		if info.Endpoints[0].Subject != healthv1.Subject(want.subject) {
			t.Errorf("%s endpoint subject = %q", want.name, info.Endpoints[0].Subject)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := natsx.NewClient(nc)
	for name, call := range map[string]func(context.Context) (healthv1.Reply, error){
		credential.Name:   client.Credential{R: req}.Health,
		fileingest.Name:   client.File{R: req}.Health,
		datasetquery.Name: client.Dataset{R: req}.Health,
	} {
		reply, err := call(ctx)
		if err != nil {
			t.Fatalf("%s health: %v", name, err)
		}
		if reply.Service != name || reply.Status != healthv1.StatusOK {
			t.Errorf("%s health = %+v", name, reply)
		}
	}

	if status, body := getJSON(t, readyURL); status != http.StatusOK {
		t.Fatalf("/ready with every service up = %d: %s", status, body)
	}
}

func getJSON(t *testing.T, url string) (int, []byte) {
	t.Helper()
	status, body := httpGet(t, url)
	if !json.Valid(body) {
		t.Fatalf("GET %s: not JSON: %s", url, body)
	}
	return status, body
}

// waitMicroInfo asks micro's discovery subject for a service's info, waiting
// for the service and its endpoints to register (it starts in another
// goroutine; micro answers INFO as soon as the service exists).
func waitMicroInfo(t *testing.T, nc *nats.Conn, name string) micro.Info {
	t.Helper()
	var info micro.Info
	// Discovery has no "registered" event to wait on.
	testkit.Eventually(t, 10*time.Second, func() error {
		msg, err := nc.Request("$SRV.INFO."+name, nil, 500*time.Millisecond)
		if err != nil && !errors.Is(err, nats.ErrNoResponders) && !errors.Is(err, nats.ErrTimeout) {
			t.Fatalf("micro info of %s with endpoints: %v", name, err)
		}
		if err == nil {
			if err := json.Unmarshal(msg.Data, &info); err != nil {
				t.Fatalf("decode %s info: %v", name, err)
			}
			if len(info.Endpoints) > 0 {
				return nil
			}
		}
		return fmt.Errorf("micro info of %s with endpoints: %v", name, err)
	})
	return info
}
