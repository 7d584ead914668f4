package deploytest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/nonefinity/backend/contracts"
	"github.com/nonefinity/backend/contracts/apikeyv1"
	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/healthv1"
	uv1 "github.com/nonefinity/backend/contracts/userv1"
	"github.com/nonefinity/backend/pkg/testkit"
)

// The users of deploy/nats/accounts.conf and the inbox prefix each receives
// replies on.
const (
	userGateway      = "gateway"
	userCredential   = "credential"
	userFileingest   = "fileingest"
	userDatasetquery = "datasetquery"
	userAgent        = "agent"
	userOps          = "ops"
)

var inboxPrefix = map[string]string{
	userAgent: "_INBOX_agent",
	userOps:   "_INBOX_ops",
}

// uid stands for any user id: the last token of events and jobs.
const uid = "user_2abc"

// deployNATS is the real nats-server started with deploy/nats as compose
// starts it; only the JetStream store directory is moved into the test's.
type deployNATS struct {
	url       string
	passwords map[string]string // user -> password
}

func startDeployNATS(t *testing.T) *deployNATS {
	t.Helper()
	bin := testkit.FindNATSBinary(t)
	nats := loadCompose(t).Services["nats"]
	args := hostArgs(t, nats)
	src := configArg(t, args)

	dir := t.TempDir()
	storeDir := regexp.MustCompile(`(?m)^(\s*store_dir:\s*)"[^"]*"`)
	for _, f := range withIncludes(t, src) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if f == src {
			if n := len(storeDir.FindAll(data, -1)); n != 1 {
				t.Fatalf("%s sets store_dir %d times, want once", f, n)
			}
			data = storeDir.ReplaceAll(data, []byte(`${1}"`+filepath.Join(dir, "store")+`"`))
		}
		rel, err := filepath.Rel(filepath.Dir(src), f)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("%s includes %s from outside its directory", src, f)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for i, a := range args {
		if a == src {
			args[i] = filepath.Join(dir, filepath.Base(src))
		}
	}

	d := &deployNATS{passwords: map[string]string{}}
	var env []string
	for name := range nats.Environment {
		user, ok := strings.CutSuffix(name, "_NATS_PASSWORD")
		if !ok {
			t.Fatalf("nats service variable %s is not a user's password", name)
		}
		pw := newSecret(t)
		d.passwords[strings.ToLower(user)] = pw
		env = append(env, name+"="+pw)
	}
	d.url = testkit.StartNATSProcess(t, bin, env, args...).URL
	return d
}

// connect signs in as user, with the user's own inbox prefix where it has
// one (the agent's and ops' replies travel there).
func (d *deployNATS) connect(t *testing.T, user string) *nats.Conn {
	t.Helper()
	pw, ok := d.passwords[user]
	if !ok {
		t.Fatalf("compose gives nats no password for user %q", user)
	}
	opts := []nats.Option{
		nats.UserInfo(user, pw), nats.Name(t.Name()), nats.NoReconnect(),
		// Denials are expected here and read from LastError; nats.go would
		// print each one otherwise.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
	}
	if p := inboxPrefix[user]; p != "" {
		opts = append(opts, nats.CustomInboxPrefix(p))
	}
	nc, err := nats.Connect(d.url, opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// allowed publishes to, or subscribes to, subject on a connection of its
// own and reports whether the server let it. The server answers a denied
// operation with -ERR before it answers the flush's PING, and nats.go records
// that error before Flush returns.
func (d *deployNATS) allowed(t *testing.T, user, verb, subject string) bool {
	t.Helper()
	nc := d.connect(t, user)
	defer nc.Close()
	var err error
	switch verb {
	case "publish":
		err = nc.Publish(subject, nil)
	case "subscribe":
		_, err = nc.SubscribeSync(subject)
	}
	if err != nil {
		t.Fatalf("%s %s %s: %v", user, verb, subject, err)
	}
	if err := nc.FlushTimeout(10 * time.Second); err != nil {
		t.Fatalf("%s: flush after %s %s: %v", user, verb, subject, err)
	}
	// The server names the operation and the subject as sent, e.g.
	// Permissions Violation for Publish to "svc.x".
	want := map[string]string{"publish": "Publish to", "subscribe": "Subscription to"}[verb]
	last := nc.LastError()
	return last == nil || !strings.Contains(last.Error(), fmt.Sprintf("%s %q", want, subject))
}

// access is what one user must and must not be able to do.
type access struct {
	pub, noPub, sub, noSub []string
}

// The subjects below come from contracts, which the services build theirs
// from; who needs what is read from the code:
//   - requests: the gateway calls every operation (contracts/client) but
//     svc.credential.v1.resolve; datasetquery calls svc.file.v1.open
//     (internal/fileclient); the agent runtime calls resolve; credential and
//     fileingest call nobody. Each service answers its own svc.<service>.>.
//   - streams: credential ensures USERS (app.Run), fileingest FILES and USERS
//     (app.ensureStreams), datasetquery DATASETS, JOBS and USERS; the gateway
//     writes USERS (Clerk webhooks) and reads every event stream with ordered
//     consumers (internal/sse).
//   - events: the gateway publishes evt.user (webhook), fileingest evt.file,
//     datasetquery evt.dataset and the conversion jobs; datasetquery also
//     subscribes to evt.dataset (a convert waits for its result, caches are
//     invalidated).
//   - durable consumers are contracts.Durable*, each named after its service.

func requestSubjects(service string, ops []string) []string {
	out := make([]string, 0, len(ops))
	for _, op := range ops {
		out = append(out, contracts.RequestSubject(service, op))
	}
	return out
}

func without(list []string, drop ...string) []string {
	var out []string
	for _, s := range list {
		keep := true
		for _, d := range drop {
			if s == d {
				keep = false
			}
		}
		if keep {
			out = append(out, s)
		}
	}
	return out
}

func join(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

var (
	credentialRequests = requestSubjects(contracts.ServiceCredential, cv1.Ops())
	fileRequests       = requestSubjects(contracts.ServiceFile, fv1.Ops())
	datasetRequests    = requestSubjects(contracts.ServiceDataset, dv1.Ops())
	allRequests        = join(credentialRequests, fileRequests, datasetRequests)
	resolve            = cv1.Subject(cv1.OpResolve)
	fileOpen           = fv1.Subject(fv1.OpOpen)

	userEvents = []string{
		uv1.UserCreated{User: uv1.User{ID: uid}}.Subject(),
		uv1.UserUpdated{User: uv1.User{ID: uid}}.Subject(),
		uv1.UserDeleted{UserID: uid}.Subject(),
	}
	fileEvents = []string{
		fv1.FileUploaded{OwnerID: uid}.Subject(), fv1.FileProcessed{OwnerID: uid}.Subject(),
		fv1.FileFailed{OwnerID: uid}.Subject(), fv1.FileDeleted{OwnerID: uid}.Subject(),
	}
	datasetEvents = []string{
		dv1.DatasetCreated{OwnerID: uid}.Subject(), dv1.DatasetConverted{OwnerID: uid}.Subject(),
		dv1.DatasetFailed{OwnerID: uid}.Subject(), dv1.DatasetUpdated{OwnerID: uid}.Subject(),
		dv1.DatasetDeleted{OwnerID: uid}.Subject(),
	}
	convertJob = dv1.ConvertJob{OwnerID: uid}.Subject()
	// providersRefreshed and credentialsChanged are the credential
	// instances' own broadcasts.
	providersRefreshed = contracts.ProvidersRefreshedSubject()
	credentialsChanged = contracts.CredentialsChangedSubject()
	// keyInvalidated is the gateway's own: services must not evict keys.
	keyInvalidated = apikeyv1.KeyInvalidated{UserID: uid}.Subject()
	allEvents      = join(userEvents, fileEvents, datasetEvents)

	streams = []string{contracts.StreamUsers, contracts.StreamFiles, contracts.StreamDatasets, contracts.StreamJobs}
)

// durable is a service's durable consumer and its stream.
type durable struct{ stream, name, filter string }

var durables = map[string][]durable{
	userCredential: {{contracts.StreamUsers, contracts.DurableCredentialUserErase, contracts.EventFilter(contracts.DomainUser, contracts.EventDeleted)}},
	userFileingest: {
		{contracts.StreamFiles, contracts.DurableFileProcess, contracts.EventFilter(contracts.DomainFile, contracts.EventUploaded)},
		{contracts.StreamUsers, contracts.DurableFileUserErase, contracts.EventFilter(contracts.DomainUser, contracts.EventDeleted)},
	},
	userDatasetquery: {
		{contracts.StreamJobs, contracts.DurableDatasetConvert, contracts.ConvertJobSubject("*")},
		{contracts.StreamUsers, contracts.DurableDatasetUserErase, contracts.EventFilter(contracts.DomainUser, contracts.EventDeleted)},
	},
}

// streamAdmin are the JetStream API subjects that create and update streams.
func streamAdmin(streams ...string) []string {
	var out []string
	for _, s := range streams {
		out = append(out, "$JS.API.STREAM.CREATE."+s, "$JS.API.STREAM.UPDATE."+s)
	}
	return out
}

// durableUse are the subjects of using durables: create (with and without
// a filter), info, fetch and ack.
func durableUse(ds ...durable) []string {
	var out []string
	for _, d := range ds {
		out = append(out,
			"$JS.API.CONSUMER.CREATE."+d.stream+"."+d.name+"."+d.filter,
			"$JS.API.CONSUMER.CREATE."+d.stream+"."+d.name,
			"$JS.API.CONSUMER.DURABLE.CREATE."+d.stream+"."+d.name,
			"$JS.API.CONSUMER.INFO."+d.stream+"."+d.name,
			"$JS.API.CONSUMER.MSG.NEXT."+d.stream+"."+d.name,
			"$JS.ACK."+d.stream+"."+d.name+".1.7.7.1700000000000000000.0",
		)
	}
	return out
}

// othersDurables are every durable but user's.
func othersDurables(user string) []durable {
	var out []durable
	for owner, ds := range durables {
		if owner != user {
			out = append(out, ds...)
		}
	}
	return out
}

// withoutInfo drops the consumer INFO requests, which ops may make.
func withoutInfo(subjects []string) []string {
	var out []string
	for _, s := range subjects {
		if !strings.HasPrefix(s, "$JS.API.CONSUMER.INFO.") {
			out = append(out, s)
		}
	}
	return out
}

// destructive JetStream operations no deploy user needs.
func destructive() []string {
	var out []string
	for _, s := range streams {
		out = append(out, "$JS.API.STREAM.DELETE."+s, "$JS.API.STREAM.PURGE."+s, "$JS.API.STREAM.MSG.DELETE."+s)
	}
	return out
}

func expectedAccess() map[string]access {
	serviceDenials := func(user string, own []string) (noPub, noSub []string) {
		ds := othersDurables(user)
		noPub = join(durableUse(ds...), destructive(), []string{"$JS.API.CONSUMER.DELETE." + ds[0].stream + "." + ds[0].name})
		noSub = join(without(allRequests, own...), []string{"_INBOX_agent.x", "_INBOX_ops.x", convertJob})
		return noPub, noSub
	}
	credNoPub, credNoSub := serviceDenials(userCredential, credentialRequests)
	fileNoPub, fileNoSub := serviceDenials(userFileingest, fileRequests)
	dsNoPub, dsNoSub := serviceDenials(userDatasetquery, datasetRequests)

	return map[string]access{
		userGateway: {
			pub: join(without(allRequests, resolve), userEvents, []string{keyInvalidated}, streamAdmin(contracts.StreamUsers),
				// an SSE ordered consumer (generated name) on each event stream
				[]string{
					"$JS.API.CONSUMER.CREATE.FILES.sse_1_files." + contracts.EventSubject(contracts.DomainFile, "*", uid),
					"$JS.API.CONSUMER.MSG.NEXT.DATASETS.sse_1_datasets",
					"$JS.API.CONSUMER.DELETE.USERS.sse_1_users",
					"$JS.API.STREAM.INFO.FILES",
				}),
			noPub: join([]string{resolve, convertJob, providersRefreshed, credentialsChanged}, fileEvents, datasetEvents,
				streamAdmin(contracts.StreamFiles, contracts.StreamDatasets, contracts.StreamJobs), destructive()),
			sub:   []string{"_INBOX.x", fileEvents[0], keyInvalidated},
			noSub: join(allRequests, []string{"svc.>", "_INBOX_agent.x", "_INBOX_ops.x", convertJob}),
		},
		userCredential: {
			pub: join(streamAdmin(contracts.StreamUsers), durableUse(durables[userCredential]...), []string{providersRefreshed, credentialsChanged}),
			noPub: join(allRequests, allEvents, []string{convertJob, keyInvalidated},
				streamAdmin(contracts.StreamFiles, contracts.StreamDatasets, contracts.StreamJobs), credNoPub),
			sub:   join(credentialRequests, []string{"_INBOX.x", "$SRV.PING.credential", providersRefreshed, credentialsChanged}),
			noSub: join(credNoSub, []string{userEvents[2], fileEvents[0]}),
		},
		userFileingest: {
			pub: join(fileEvents, streamAdmin(contracts.StreamFiles, contracts.StreamUsers), durableUse(durables[userFileingest]...)),
			noPub: join(allRequests, userEvents, datasetEvents, []string{convertJob, providersRefreshed, keyInvalidated},
				streamAdmin(contracts.StreamDatasets, contracts.StreamJobs), fileNoPub),
			sub:   join(fileRequests, []string{"_INBOX.x", "$SRV.PING.file"}),
			noSub: join(fileNoSub, []string{userEvents[2], datasetEvents[0]}),
		},
		userDatasetquery: {
			pub: join(datasetEvents, []string{convertJob, fileOpen},
				streamAdmin(contracts.StreamDatasets, contracts.StreamJobs, contracts.StreamUsers), durableUse(durables[userDatasetquery]...)),
			noPub: join(without(allRequests, fileOpen), userEvents, fileEvents, []string{keyInvalidated},
				streamAdmin(contracts.StreamFiles), dsNoPub),
			sub:   join(datasetRequests, datasetEvents, []string{"_INBOX.x", "$SRV.PING.dataset"}),
			noSub: join(dsNoSub, []string{userEvents[2], fileEvents[0]}),
		},
		userAgent: {
			pub:   []string{resolve},
			noPub: join(without(allRequests, resolve), allEvents, []string{convertJob, "$SRV.PING", "$JS.API.INFO"}),
			sub:   []string{"_INBOX_agent.x"},
			noSub: join(allRequests, allEvents, []string{"_INBOX.x", "_INBOX_ops.x", "$SRV.>"}),
		},
		userOps: {
			pub: []string{
				"$SRV.PING", "$SRV.PING.credential", "$SRV.INFO.file", "$SRV.STATS.dataset",
				"$JS.API.INFO", "$JS.API.STREAM.LIST", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.INFO.FILES",
				"$JS.API.CONSUMER.INFO.FILES." + contracts.DurableFileProcess,
				"$JS.API.CONSUMER.LIST.USERS", "$JS.API.CONSUMER.NAMES.JOBS",
			},
			// Never a request: it would reach the service with whatever
			// Nf-User-Id ops put on it.
			noPub: join(allRequests, allEvents, []string{convertJob, "$JS.API.STREAM.MSG.GET.USERS"},
				streamAdmin(streams...), destructive(),
				withoutInfo(durableUse(othersDurables(userOps)...))),
			sub: join(allEvents, []string{"evt.>", "_INBOX_ops.x"}),
			// Requests carry API keys in plaintext (credential create and
			// update); replies travel on _INBOX.
			noSub: join(allRequests, []string{
				">", "svc.>", "svc.credential.>", "_INBOX.>", "_INBOX.x", "_INBOX_agent.>",
				convertJob, "job.>", "$SRV.>", "$JS.API.>",
			}),
		},
	}
}

// TestNATSUsersHaveWhatTheirServiceNeedsAndNoMore starts the real
// nats-server with deploy/nats and checks, for every user of
// accounts.conf, each subject it must be allowed and each it must be denied
// to publish and to subscribe.
func TestNATSUsersHaveWhatTheirServiceNeedsAndNoMore(t *testing.T) {
	d := startDeployNATS(t)
	want := expectedAccess()
	for _, user := range sortedKeys(d.passwords) {
		if _, ok := want[user]; !ok {
			t.Errorf("accounts.conf user %s has no expected access here: add it", user)
		}
	}
	for _, user := range sortedKeys(want) {
		a := want[user]
		t.Run(user, func(t *testing.T) {
			check := func(verb string, subjects []string, allow bool) {
				for _, s := range subjects {
					if got := d.allowed(t, user, verb, s); got != allow {
						t.Errorf("%s may %s %q: %v, want %v", user, verb, s, got, allow)
					}
				}
			}
			check("publish", a.pub, true)
			check("publish", a.noPub, false)
			check("subscribe", a.sub, true)
			check("subscribe", a.noSub, false)
		})
	}
}

// TestNATSDeployUsersWorkTogether runs what the services do with the
// libraries they use, each as its own user: micro services answering the
// gateway, datasetquery, the agent and ops (replies included, which pass only
// through allow_responses and each caller's inbox prefix), and JetStream
// streams, durable consumers and an SSE ordered consumer carrying events
// from publisher to consumer.
func TestNATSDeployUsersWorkTogether(t *testing.T) {
	d := startDeployNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	serve := func(user, name string, ops []string) {
		nc := d.connect(t, user)
		svc, err := micro.AddService(nc, micro.Config{Name: name, Version: "1.0.0"})
		if err != nil {
			t.Fatalf("%s: add micro service: %v", user, err)
		}
		t.Cleanup(func() { _ = svc.Stop() })
		for _, op := range ops {
			if err := svc.AddEndpoint(op, micro.HandlerFunc(func(r micro.Request) { _ = r.Respond([]byte(`"` + name + "." + op + `"`)) }),
				micro.WithEndpointSubject(contracts.RequestSubject(name, op))); err != nil {
				t.Fatalf("%s: endpoint %s: %v", user, op, err)
			}
		}
	}
	serve(userCredential, contracts.ServiceCredential, cv1.Ops())
	serve(userFileingest, contracts.ServiceFile, fv1.Ops())
	serve(userDatasetquery, contracts.ServiceDataset, dv1.Ops())

	call := func(user, subject string) {
		t.Helper()
		msg, err := d.connect(t, user).RequestWithContext(ctx, subject, []byte(`{}`))
		if err != nil {
			t.Fatalf("%s requests %s: %v", user, subject, err)
		}
		if len(msg.Data) == 0 {
			t.Fatalf("%s requests %s: empty reply", user, subject)
		}
	}
	for _, s := range []string{contracts.ServiceCredential, contracts.ServiceFile, contracts.ServiceDataset} {
		call(userGateway, healthv1.Subject(s))
	}
	call(userGateway, cv1.Subject(cv1.OpCreate))
	call(userDatasetquery, fileOpen)
	call(userAgent, resolve)
	call(userOps, "$SRV.PING."+contracts.ServiceCredential)
	call(userOps, "$SRV.INFO."+contracts.ServiceFile)
	call(userOps, "$SRV.STATS."+contracts.ServiceDataset)

	js := func(user string) jetstream.JetStream {
		j, err := jetstream.New(d.connect(t, user))
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	ensure := func(user string, names ...string) {
		j := js(user)
		for _, n := range names {
			spec, _ := contracts.StreamFor(n)
			cfg := jetstream.StreamConfig{Name: spec.Name, Subjects: spec.Subjects}
			if spec.Retention == contracts.RetainWorkQueue {
				cfg.Retention = jetstream.WorkQueuePolicy
			}
			if _, err := j.CreateOrUpdateStream(ctx, cfg); err != nil {
				t.Fatalf("%s ensures stream %s: %v", user, n, err)
			}
			if _, err := j.Stream(ctx, n); err != nil {
				t.Fatalf("%s reads stream %s: %v", user, n, err)
			}
		}
	}
	ensure(userCredential, contracts.StreamUsers)
	ensure(userFileingest, contracts.StreamFiles, contracts.StreamUsers)
	ensure(userDatasetquery, contracts.StreamDatasets, contracts.StreamJobs, contracts.StreamUsers)

	consumers := map[string]jetstream.Consumer{}
	for _, user := range sortedKeys(durables) {
		j := js(user)
		for _, dur := range durables[user] {
			c, err := j.CreateOrUpdateConsumer(ctx, dur.stream, jetstream.ConsumerConfig{
				Durable: dur.name, FilterSubject: dur.filter, AckPolicy: jetstream.AckExplicitPolicy,
			})
			if err != nil {
				t.Fatalf("%s creates its consumer %s on %s: %v", user, dur.name, dur.stream, err)
			}
			if _, err := j.Consumer(ctx, dur.stream, dur.name); err != nil {
				t.Fatalf("%s reads its consumer %s: %v", user, dur.name, err)
			}
			consumers[dur.name] = c
		}
	}

	sse, err := js(userGateway).OrderedConsumer(ctx, contracts.StreamFiles, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{contracts.EventSubject(contracts.DomainFile, "*", uid)},
	})
	if err != nil {
		t.Fatalf("gateway opens an ordered consumer on FILES: %v", err)
	}

	publish := func(user, subject string) {
		t.Helper()
		if _, err := js(user).Publish(ctx, subject, []byte(`{}`)); err != nil {
			t.Fatalf("%s publishes %s: %v", user, subject, err)
		}
	}
	publish(userGateway, uv1.UserDeleted{UserID: uid}.Subject())
	publish(userFileingest, fv1.FileUploaded{OwnerID: uid}.Subject())
	publish(userDatasetquery, convertJob)

	for name, c := range consumers {
		batch, err := c.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
		if err != nil {
			t.Fatalf("fetch from %s: %v", name, err)
		}
		n := 0
		for m := range batch.Messages() {
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatalf("ack on %s: %v", name, err)
			}
			n++
		}
		if n != 1 {
			t.Fatalf("%s delivered %d messages, want 1 (%v)", name, n, batch.Error())
		}
	}
	batch, err := sse.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatalf("gateway fetches its SSE consumer: %v", err)
	}
	uploaded := fv1.FileUploaded{OwnerID: uid}.Subject()
	got := 0
	for m := range batch.Messages() {
		if m.Subject() != uploaded {
			t.Fatalf("SSE consumer got %s, want %s", m.Subject(), uploaded)
		}
		got++
	}
	if got != 1 {
		t.Fatalf("SSE consumer delivered %d events, want 1 (%v)", got, batch.Error())
	}

	// What ops looks at: the account, streams and consumers.
	ops := js(userOps)
	if _, err := ops.AccountInfo(ctx); err != nil {
		t.Fatalf("ops reads account info: %v", err)
	}
	names := ops.StreamNames(ctx)
	var seen []string
	for n := range names.Name() {
		seen = append(seen, n)
	}
	if names.Err() != nil || len(seen) != len(streams) {
		t.Fatalf("ops lists streams: %v, %v", seen, names.Err())
	}
	st, err := ops.Stream(ctx, contracts.StreamFiles)
	if err != nil {
		t.Fatalf("ops reads stream info: %v", err)
	}
	info, err := st.Consumer(ctx, contracts.DurableFileProcess)
	if err != nil {
		t.Fatalf("ops reads consumer info: %v", err)
	}
	if got := info.CachedInfo().AckFloor.Stream; got != 1 {
		t.Fatalf("ops sees %s acknowledged up to %d, want 1", contracts.DurableFileProcess, got)
	}
}
