package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/client"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/config"
	"github.com/nonefinity/backend/pkg/natsx"
	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/pkg/reqctx"
	"github.com/nonefinity/backend/pkg/testkit"
	"github.com/nonefinity/backend/services/datasetquery/app"
)

const (
	alice = "65f2a1b3c4d5e6f708192a01"
	bob   = "65f2a1b3c4d5e6f708192a02"
)

type env struct {
	ds    client.Dataset
	js    jetstream.JetStream
	store *objstore.Store
	nc    *nats.Conn
	infra infra
}

// infra is what every datasetquery instance of a test shares: one NATS
// server, one MongoDB database, one bucket.
type infra struct {
	ns    *testkit.NATSServer
	db    *mongo.Database
	store *objstore.Store
}

func newInfra(t testing.TB) infra {
	t.Helper()
	ns := testkit.NATS(t)
	db := testkit.Mongo(t)
	b := testkit.S3(t)
	st, err := objstore.New(objstore.Config{Endpoint: b.Endpoint, AccessKey: b.AccessKey, SecretKey: b.SecretKey, Bucket: b.Bucket})
	if err != nil {
		t.Fatal(err)
	}
	return infra{ns: ns, db: db, store: st}
}

// instance is one running datasetquery service (one app.Run).
type instance struct {
	dir  string
	nc   *nats.Conn
	stop func() error
}

// testConfig is the configuration tests run with; tweak adjusts it.
func testConfig(dir string, tweak ...func(*app.Config)) app.Config {
	cfg := app.Config{Settings: app.DefaultSettings()}
	cfg.DuckDBQueryTimeout, cfg.DuckDBMemoryLimit = config.Duration(3*time.Second), "256MB"
	cfg.DuckDBTempFolder = dir
	for _, f := range tweak {
		f(&cfg)
	}
	return cfg
}

// run starts an instance on its own NATS connection with DUCKDB_TEMP_FOLDER
// dir; stop (also run at cleanup) cancels it and waits for Run to return.
func (in infra) run(t testing.TB, dir string, tweak ...func(*app.Config)) *instance {
	t.Helper()
	nc := in.ns.Conn(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, testConfig(dir, tweak...), app.Deps{NC: nc, DB: in.db, Store: in.store, Log: slog.New(slog.DiscardHandler)})
	}()
	var once sync.Once
	var runErr error
	inst := &instance{dir: dir, nc: nc, stop: func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}}
	t.Cleanup(func() {
		if err := inst.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return inst
}

// env is a client on the shared infrastructure.
func (in infra) env(t testing.TB) env {
	t.Helper()
	nc := in.ns.Conn(t)
	return env{ds: client.Dataset{R: natsx.NewClient(nc)}, js: in.ns.JetStream(t), store: in.store, nc: nc, infra: in}
}

func start(t testing.TB, tweak ...func(*app.Config)) env {
	t.Helper()
	in := newInfra(t)
	in.run(t, t.TempDir(), tweak...)
	e := in.env(t)
	waitInstances(t, e.nc, 1)
	return e
}

// waitInstances waits (bounded) until exactly n datasetquery instances
// report every endpoint in their micro stats (the last one registered is
// duckdb.cleanup), and returns their request counts.
func waitInstances(t testing.TB, nc *nats.Conn, n int) map[string]map[string]int {
	t.Helper()
	var stats map[string]map[string]int
	testkit.Eventually(t, 30*time.Second, func() error {
		stats = instanceStats(t, nc, n)
		ready := 0
		for _, eps := range stats {
			if _, ok := eps[dv1.Subject(dv1.OpDuckDBCleanup)]; ok {
				ready++
			}
		}
		if ready == n && len(stats) == n {
			return nil
		}
		return fmt.Errorf("%d datasetquery instances ready, want %d", ready, n)
	})
	return stats
}

// instanceStats asks $SRV.STATS.datasetquery and returns, per instance id,
// the number of requests each endpoint subject has served. It stops
// collecting once want instances answered or after a short quiet window.
func instanceStats(t testing.TB, nc *nats.Conn, want int) map[string]map[string]int {
	t.Helper()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.PublishRequest("$SRV.STATS."+app.Name, inbox, nil); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]int{}
	for len(out) < want {
		msg, err := sub.NextMsg(250 * time.Millisecond)
		if err != nil {
			break
		}
		var st struct {
			ID        string `json:"id"`
			Endpoints []struct {
				Subject     string `json:"subject"`
				NumRequests int    `json:"num_requests"`
			} `json:"endpoints"`
		}
		if json.Unmarshal(msg.Data, &st) != nil || st.ID == "" {
			continue
		}
		eps := map[string]int{}
		for _, ep := range st.Endpoints {
			eps[ep.Subject] = ep.NumRequests
		}
		out[st.ID] = eps
	}
	return out
}

func as(user string, role ...string) context.Context {
	m := reqctx.Meta{UserID: user}
	if len(role) > 0 {
		m.Role = role[0]
	}
	return reqctx.With(context.Background(), m)
}

func TestDatasetsLifecycle(t *testing.T) {
	e := start(t)
	schema := []dv1.Column{{ColumnName: "id", ColumnType: "bigint", Desc: "key"}, {ColumnName: "label", ColumnType: "string"}, {ColumnName: "at", ColumnType: "timestamp"}}

	// 2xx: create, get, list.
	d, err := e.ds.Create(as(alice), dv1.CreateRequest{DatasetName: "sales", Description: "d", Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != dv1.StatusReady || len(d.DataSchema) != 3 || d.OwnerID != alice {
		t.Fatalf("created %+v", d)
	}
	if got, err := e.ds.Get(as(alice), dv1.GetRequest{ID: d.ID}); err != nil || got.Name != "sales" {
		t.Fatalf("get %v %+v", err, got)
	}
	if l, err := e.ds.List(as(alice), dv1.ListRequest{}); err != nil || l.Total != 1 || len(l.Datasets) != 1 {
		t.Fatalf("list %v %+v", err, l)
	}
	// The empty dataset is queryable with its declared types.
	q, err := e.ds.Query(as(alice), dv1.QueryRequest{Query: "SELECT count(*) AS n FROM sales"})
	if err != nil || q.Data[0].Get("n") != float64(0) {
		t.Fatalf("query %v %+v", err, q)
	}
	q, err = e.ds.Query(as(alice), dv1.QueryRequest{Query: "DESCRIBE sales"})
	if err != nil || q.RowCount != 3 || q.Data[2].Get("column_type") != "TIMESTAMP" {
		t.Fatalf("describe %v %+v", err, q.Data)
	}
	if data, err := e.ds.Data(as(alice), dv1.DataRequest{ID: d.ID}); err != nil || data.TotalRows != 0 || len(data.Data) != 0 || data.Limit != 100 {
		t.Fatalf("data %v %+v", err, data)
	}

	// 4xx: bad names and types, duplicates, other user's id, unknown id.
	_, err = e.ds.Create(as(alice), dv1.CreateRequest{DatasetName: "select", Schema: schema})
	testkit.WantCode(t, err, rpcerr.Validation)
	_, err = e.ds.Create(as(alice), dv1.CreateRequest{DatasetName: "1abc", Schema: schema})
	testkit.WantCode(t, err, rpcerr.Validation)
	_, err = e.ds.Create(as(alice), dv1.CreateRequest{DatasetName: "ok", Schema: []dv1.Column{{ColumnName: "x", ColumnType: "VARCHAR(10)"}}})
	testkit.WantCode(t, err, rpcerr.Validation)
	_, err = e.ds.Create(as(alice), dv1.CreateRequest{DatasetName: "sales", Schema: schema})
	testkit.WantCode(t, err, rpcerr.Conflict)
	_, err = e.ds.Get(as(bob), dv1.GetRequest{ID: d.ID})
	testkit.WantCode(t, err, rpcerr.NotFound)
	_, err = e.ds.Get(as(alice), dv1.GetRequest{ID: "nope"})
	testkit.WantCode(t, err, rpcerr.NotFound)
	_, err = e.ds.Query(as(bob), dv1.QueryRequest{Query: "SELECT * FROM sales"})
	testkit.WantCode(t, err, rpcerr.BadRequest)
	_, err = e.ds.Query(as(alice), dv1.QueryRequest{Query: "COPY sales TO '/tmp/leak.csv'"})
	testkit.WantCode(t, err, rpcerr.BadRequest)
	_, err = e.ds.Query(as(alice), dv1.QueryRequest{Query: "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"})
	testkit.WantCode(t, err, rpcerr.Timeout)
	_, err = e.ds.Query(context.Background(), dv1.QueryRequest{Query: "SELECT 1"})
	testkit.WantCode(t, err, rpcerr.Unauthorized)

	// Rename: the rules apply, the new name is the table name, the old one is gone.
	other, err := e.ds.Create(as(alice), dv1.CreateRequest{DatasetName: "other", Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.ds.Update(as(alice), dv1.UpdateRequest{ID: other.ID, Name: ptr("sales")})
	testkit.WantCode(t, err, rpcerr.Conflict)
	_, err = e.ds.Update(as(alice), dv1.UpdateRequest{ID: other.ID, Name: ptr("from")})
	testkit.WantCode(t, err, rpcerr.Validation)
	renamed, err := e.ds.Update(as(alice), dv1.UpdateRequest{ID: d.ID, Name: ptr("sales_2024"), Description: ptr("new")})
	if err != nil || renamed.Name != "sales_2024" || renamed.Description != "new" {
		t.Fatalf("rename %v %+v", err, renamed)
	}
	if _, err := e.ds.Query(as(alice), dv1.QueryRequest{Query: "SELECT * FROM sales_2024"}); err != nil {
		t.Fatal(err)
	}
	_, err = e.ds.Query(as(alice), dv1.QueryRequest{Query: "SELECT * FROM sales"})
	testkit.WantCode(t, err, rpcerr.BadRequest)

	// Schema descriptions.
	up, err := e.ds.UpdateSchema(as(alice), dv1.UpdateSchemaRequest{ID: d.ID, Descriptions: map[string]string{"LABEL": "a label"}})
	if err != nil || up.DataSchema[1].Desc != "a label" || up.DataSchema[0].Desc != "key" {
		t.Fatalf("update schema %v %+v", err, up.DataSchema)
	}
	_, err = e.ds.UpdateSchema(as(alice), dv1.UpdateSchemaRequest{ID: d.ID, Descriptions: map[string]string{"nope": "x"}})
	testkit.WantCode(t, err, rpcerr.Validation)

	// Sessions: instance-wide stats and cleanup for admins only.
	_, err = e.ds.DuckDBStats(as(alice))
	testkit.WantCode(t, err, rpcerr.Forbidden)
	st, err := e.ds.DuckDBStats(as(alice, contracts.RoleAdmin))
	if err != nil || st.TotalInstances < 1 || st.InstanceTTL != 600 {
		t.Fatalf("stats %v %+v", err, st)
	}
	_, err = e.ds.DuckDBCleanup(as(alice))
	testkit.WantCode(t, err, rpcerr.Forbidden)
	if _, err := e.ds.DuckDBCleanup(as(alice, contracts.RoleAdmin)); err != nil {
		t.Fatal(err)
	}

	// Delete: document and objects go; another user cannot delete.
	_, err = e.ds.Delete(as(bob), dv1.DeleteRequest{ID: d.ID})
	testkit.WantCode(t, err, rpcerr.NotFound)
	if r, err := e.ds.Delete(as(alice), dv1.DeleteRequest{ID: d.ID}); err != nil || !r.Deleted {
		t.Fatalf("delete %v %+v", err, r)
	}
	_, err = e.ds.Get(as(alice), dv1.GetRequest{ID: d.ID})
	testkit.WantCode(t, err, rpcerr.NotFound)
	for obj, err := range e.store.List(context.Background(), "users/"+alice+"/datasets/"+d.ID+"/") {
		t.Fatalf("object left: %+v %v", obj, err)
	}

	// Erasure: a user.deleted event removes the rest.
	if err := natsx.Publish(context.Background(), e.js, userv1.UserDeleted{UserID: alice}.Subject(), "user.deleted."+alice,
		userv1.UserDeleted{UserID: alice, DeletedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		_, err := e.ds.Get(as(alice), dv1.GetRequest{ID: other.ID})
		if err != nil {
			testkit.WantCode(t, err, rpcerr.NotFound)
			return nil
		}
		return errors.New("dataset survived the user's erasure")
	})
	for obj, err := range e.store.List(context.Background(), "users/"+alice+"/") {
		t.Fatalf("object left after erasure: %+v %v", obj, err)
	}
}

func ptr[T any](v T) *T { return &v }
