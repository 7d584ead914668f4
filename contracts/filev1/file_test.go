package filev1_test

import (
	"encoding/json"
	"flag"
	"testing"
	"time"

	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/internal/golden"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current types")

var (
	created = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	updated = time.Date(2025, 6, 1, 12, 0, 0, 123000000, time.UTC)
)

const (
	owner  = "65f2a1b3c4d5e6f708192a3b"
	fileID = "65f2a1b3c4d5e6f708192b01"
	object = "users/65f2a1b3c4d5e6f708192a3b/raw/01JPB5Q6ZK8W3V1N2M4R7T9XYZ.csv"
)

func csvPreview() *fv1.Preview {
	return &fv1.Preview{
		Columns: []string{"id", "city", "amount"}, Encoding: "windows-1252", Delimiter: ";", HasHeader: true,
		Rows: [][]string{{"1", "Zürich", "12,50"}, {"2", "Köln", ""}},
	}
}

func readyFile() fv1.File {
	return fv1.File{
		ID: fileID, OwnerID: owner, Bucket: "nonefinity", FilePath: object,
		FileName: "sales 2024", FileExt: ".csv", FileType: "text/csv", FileSize: 1048576,
		URL: "https://s3.example.com/nonefinity/" + object, Status: fv1.StatusReady,
		Category: fv1.CategorySpreadsheet, DetectedType: "text/csv",
		SHA256:  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Preview: csvPreview(), CreatedAt: created, UpdatedAt: updated,
	}
}

func TestWireFormat(t *testing.T) {
	failed := fv1.File{
		ID: "65f2a1b3c4d5e6f708192b02", OwnerID: owner, Bucket: "nonefinity",
		FilePath: "users/65f2a1b3c4d5e6f708192a3b/raw/01JPB5Q6ZK8W3V1N2M4R7T9XZ0.csv",
		FileName: "photo", FileExt: ".csv", FileType: "text/csv", FileSize: 20480,
		Status: fv1.StatusFailed, Category: fv1.CategoryImage, DetectedType: "image/png",
		Error: "content is image/png, not text/csv", CreatedAt: created, UpdatedAt: updated,
	}
	xlsx := &fv1.Preview{
		Columns: []string{"region", "q1"}, HasHeader: true, Rows: [][]string{{"EU", "10"}},
		Sheets: []string{"Summary", "Raw"}, Sheet: "Summary",
	}
	golden.CheckAll(t, []golden.Case{
		{Name: "upload_url_request", Value: fv1.UploadURLRequest{FileName: "sales 2024.csv", FileSize: 1048576, FileType: "text/csv"}},
		{Name: "upload_url_reply", Value: fv1.UploadURLReply{
			UploadURL:  "https://s3.example.com/nonefinity/" + object + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=600",
			ObjectName: object, ExpiresIn: 600, MaxSize: 5368709120,
		}},
		{Name: "multipart_start_request", Value: fv1.MultipartStartRequest{FileName: "sales 2024.csv", FileType: "text/csv"}},
		{Name: "multipart_start_reply", Value: fv1.MultipartStartReply{
			ObjectName: object, UploadID: "ZjQ5Yzc0NzItN2E4YS00", PartSize: 8388608, MaxSize: 5368709120, ExpiresIn: 3600,
		}},
		{Name: "multipart_part_urls_request", Value: fv1.MultipartPartURLsRequest{ObjectName: object, UploadID: "ZjQ5Yzc0NzItN2E4YS00", FirstPart: 1, Count: 2}},
		{Name: "multipart_part_urls_reply", Value: fv1.MultipartPartURLsReply{URLs: []string{
			"https://s3.example.com/nonefinity/" + object + "?partNumber=1&uploadId=ZjQ5Yzc0NzItN2E4YS00&X-Amz-Expires=3600",
			"https://s3.example.com/nonefinity/" + object + "?partNumber=2&uploadId=ZjQ5Yzc0NzItN2E4YS00&X-Amz-Expires=3600",
		}, ExpiresIn: 3600}},
		{Name: "multipart_complete_request", Value: fv1.MultipartCompleteRequest{ObjectName: object, UploadID: "ZjQ5Yzc0NzItN2E4YS00", Parts: []fv1.UploadedPart{
			{PartNumber: 1, ETag: `"9b2cf535f27731c974343645a3985328"`}, {PartNumber: 2, ETag: `"6f5902ac237024bdd0c176cb93063dc4"`},
		}}},
		{Name: "multipart_complete_reply", Value: fv1.MultipartCompleteReply{ObjectName: object, Size: 8388620}},
		{Name: "abort_upload_request", Value: fv1.AbortUploadRequest{ObjectName: object, UploadID: "ZjQ5Yzc0NzItN2E4YS00"}},
		{Name: "abort_upload_reply", Value: fv1.AbortUploadReply{ObjectName: object}},
		{Name: "commit_request", Value: fv1.CommitRequest{ObjectName: object, FileName: "sales 2024.csv", FileSize: 1048576, FileType: "text/csv"}},
		{Name: "file_ready", Value: readyFile()},
		{Name: "file_failed", Value: failed},
		{Name: "preview_xlsx", Value: *xlsx},
		{Name: "get_request", Value: fv1.GetRequest{ID: fileID}},
		{Name: "list_request", Value: fv1.ListRequest{Cursor: "1741944413000.65f2a1b3c4d5e6f708192b01"}},
		{Name: "list_reply", Value: fv1.ListReply{Files: []fv1.File{readyFile(), failed}, Next: "1741944413000.65f2a1b3c4d5e6f708192b02"}},
		{Name: "search_request", Value: fv1.SearchRequest{Q: "sales (2024)", FileType: "text/", Limit: 20}},
		{Name: "rename_request", Value: fv1.RenameRequest{ID: fileID, NewName: "sales-final"}},
		{Name: "delete_request", Value: fv1.DeleteRequest{ID: fileID}},
		{Name: "delete_reply", Value: fv1.DeleteReply{FileID: fileID}},
		{Name: "batch_delete_request", Value: fv1.BatchDeleteRequest{FileIDs: []string{fileID, "65f2a1b3c4d5e6f708192b02", "nope"}}},
		{Name: "batch_delete_reply", Value: fv1.BatchDeleteReply{
			Successful: []string{fileID, "65f2a1b3c4d5e6f708192b02"},
			Failed:     []fv1.BatchFailure{{FileID: "nope", Error: "file not found"}},
		}},
		{Name: "stats_reply", Value: fv1.StatsReply{
			TotalFiles: 3, TotalSize: 1572864, TotalSizeMB: 1.5,
			FileTypes: map[string]int{"text": 2, "image": 1},
		}},
		{Name: "types_reply", Value: fv1.TypesReply{Types: []string{"application/pdf", "image/png", "text/csv"}}},
		{Name: "download_url_request", Value: fv1.DownloadURLRequest{ID: fileID}},
		{Name: "download_url_reply", Value: fv1.DownloadURLReply{URL: "https://s3.example.com/nonefinity/" + object + "?X-Amz-Expires=3600", ExpiresIn: 3600}},
		{Name: "open_request", Value: fv1.OpenRequest{FileID: fileID}},
		{Name: "open_reply", Value: fv1.OpenReply{URL: "https://s3.example.com/nonefinity/" + object + "?X-Amz-Expires=900", ExpiresIn: 900, File: readyFile(), ETag: "9b2cf535f27731c974343645a3985328"}},
		{Name: "event_file_uploaded", Value: fv1.FileUploaded{
			FileID: fileID, OwnerID: owner, Bucket: "nonefinity", ObjectName: object,
			Size: 1048576, ContentType: "text/csv", UploadedAt: created,
		}},
		{Name: "event_file_processed", Value: fv1.FileProcessed{
			FileID: fileID, OwnerID: owner, Status: fv1.StatusReady, Category: fv1.CategorySpreadsheet,
			DetectedType: "text/csv", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Size: 1048576, Preview: csvPreview(), ProcessedAt: updated,
		}},
		{Name: "event_file_failed", Value: fv1.FileFailed{FileID: fileID, OwnerID: owner, Error: "xlsx: uncompressed size over 1 GiB", FailedAt: updated}},
		{Name: "event_file_deleted", Value: fv1.FileDeleted{FileID: fileID, OwnerID: owner, ObjectName: object, DeletedAt: updated}},
	}, *update)
}

func TestEmptyCollectionsEncodeAsEmptyJSON(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{fv1.ListReply{}, `{"files":[]}`},
		{fv1.BatchDeleteReply{}, `{"successful":[],"failed":[]}`},
		{fv1.StatsReply{}, `{"total_files":0,"total_size":0,"total_size_mb":0,"file_types":{}}`},
		{fv1.TypesReply{}, `{"types":[]}`},
		{fv1.Preview{}, `{"columns":[],"has_header":false,"rows":[]}`},
		// A file not processed yet omits what processing adds.
		{fv1.File{ID: fileID, Status: fv1.StatusUploaded, CreatedAt: created, UpdatedAt: created},
			`{"id":"` + fileID + `","owner_id":"","bucket":"","file_path":"","file_name":"","file_ext":"","file_type":"",` +
				`"file_size":0,"status":"uploaded","created_at":"2025-03-14T09:26:53Z","updated_at":"2025-03-14T09:26:53Z"}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("%T: got %s, want %s", tc.v, b, tc.want)
		}
	}
}

func TestEventSubjects(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{fv1.FileUploaded{OwnerID: owner}.Subject(), "evt.file.v1.uploaded." + owner},
		{fv1.FileProcessed{OwnerID: owner}.Subject(), "evt.file.v1.processed." + owner},
		{fv1.FileFailed{OwnerID: owner}.Subject(), "evt.file.v1.failed." + owner},
		{fv1.FileDeleted{OwnerID: owner}.Subject(), "evt.file.v1.deleted." + owner},
		{fv1.Subject(fv1.OpUploadURL), "svc.file.v1.upload_url"},
	} {
		if tc.got != tc.want {
			t.Errorf("subject %q, want %q", tc.got, tc.want)
		}
	}
}
