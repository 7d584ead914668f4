package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	"github.com/nonefinity/backend/contracts/paging"
)

// A dataset the Python service wrote has no status, no row count and a
// null updated_at (its TimeMixin sets it on updates only): it reads as
// ready, without a year-1 updated_at, in Get and in List.
func TestPythonDatasetDocument(t *testing.T) {
	e := start(t)
	created := time.Date(2025, 9, 17, 20, 40, 50, 0, time.UTC)
	oid := bson.NewObjectID()
	_, err := e.infra.db.Collection("datasets").InsertOne(context.Background(), bson.D{
		{Key: "_id", Value: oid}, {Key: "name", Value: "legacy_sales"}, {Key: "description", Value: nil},
		{Key: "owner_id", Value: alice},
		{Key: "data_schema", Value: bson.A{bson.D{{Key: "column_name", Value: "amount"}, {Key: "column_type", Value: "double"}, {Key: "desc", Value: nil}}}},
		{Key: "created_at", Value: created}, {Key: "updated_at", Value: nil},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.ds.Get(as(alice), dv1.GetRequest{ID: oid.Hex()})
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Status != dv1.StatusReady || got.Name != "legacy_sales" || !got.CreatedAt.Equal(created) || !got.UpdatedAt.IsZero() ||
		len(got.DataSchema) != 1 || got.DataSchema[0].ColumnName != "amount" {
		t.Fatalf("Python dataset = %+v", got)
	}
	list, err := e.ds.List(as(alice), dv1.ListRequest{Page: paging.Page{Limit: 10}})
	if err != nil || len(list.Datasets) != 1 || list.Datasets[0].Status != dv1.StatusReady {
		t.Fatalf("List = %+v, %v", list, err)
	}
	raw, _ := json.Marshal(list.Datasets[0])
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if _, ok := m["updated_at"]; ok || strings.Contains(string(raw), "0001-01-01") || m["status"] != "ready" {
		t.Fatalf("Python dataset as JSON: %s", raw)
	}
}
