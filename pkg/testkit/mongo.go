package testkit

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/nonefinity/backend/pkg/embedded"
)

// sharedMongo is the one FerretDB (and client) of this test binary. It is
// never stopped: it lives until the process exits, and its temp directory
// is removed by the next test binary that starts one (see tempDirForBinary).
var sharedMongo struct {
	once   sync.Once
	uri    string
	client *mongo.Client
	err    error
	dbSeq  atomic.Int64
}

func startSharedMongo() {
	dir, err := tempDirForBinary("ferretdb")
	if err != nil {
		sharedMongo.err = fmt.Errorf("create ferretdb dir: %w", err)
		return
	}
	fdb, err := embedded.StartFerretDB(context.Background(), embedded.FerretOptions{Dir: dir})
	if err != nil {
		sharedMongo.err = err
		return
	}
	client, err := mongo.Connect(options.Client().ApplyURI(fdb.URI()))
	if err != nil {
		sharedMongo.err = fmt.Errorf("connect to ferretdb %s: %w", fdb.URI(), err)
		return
	}
	sharedMongo.uri = fdb.URI()
	sharedMongo.client = client
}

// MongoURI returns the connection string of the test binary's FerretDB,
// starting it on first use. Tests that connect with their own client must
// still use a database of their own (see Mongo).
func MongoURI(t testing.TB) string {
	t.Helper()
	sharedMongo.once.Do(startSharedMongo)
	if sharedMongo.err != nil {
		t.Fatalf("testkit: start ferretdb: %v", sharedMongo.err)
	}
	return sharedMongo.uri
}

// Mongo returns a database of its own for this test in the test binary's
// FerretDB (SQLite storage). The database is dropped when the test ends.
func Mongo(t testing.TB) *mongo.Database {
	t.Helper()
	MongoURI(t)
	name := uniqueName(t, sharedMongo.dbSeq.Add(1), 63)
	db := sharedMongo.client.Database(name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Errorf("testkit: drop database %s: %v", name, err)
		}
	})
	return db
}

var nameUnsafe = regexp.MustCompile(`[^a-z0-9]+`)

// uniqueName builds a resource name from the test name, the process id and
// a per-binary sequence number: readable when debugging, unique across tests
// and across test binaries sharing a server. Only [a-z0-9-] are used, which
// suits database names, bucket names and key prefixes alike.
func uniqueName(t testing.TB, seq int64, maxLen int) string {
	suffix := fmt.Sprintf("-%d-%d", os.Getpid(), seq)
	base := strings.Trim(nameUnsafe.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if base == "" {
		base = "t"
	}
	if keep := maxLen - len(suffix); len(base) > keep {
		base = strings.TrimRight(base[:keep], "-")
	}
	return base + suffix
}
