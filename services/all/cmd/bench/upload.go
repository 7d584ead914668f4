package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	neturl "net/url"
	"time"

	"github.com/nonefinity/backend/pkg/objstore"
	"github.com/nonefinity/backend/services/all/internal/localrun"
)

// upload sends o.uploadMiB through the gateway's multipart relay (POST
// /file/upload, with a Content-Length as a browser sends it) and, as the
// baseline, the same bytes with one PUT to a presigned URL of the same S3
// server (POST /file/upload-url), o.uploadRuns times interleaved. Memory is
// the process's Go heap peak during each: the system runs in this process,
// so both include the S3 server's own buffers, and the difference is what
// the relay adds.
func (b *bench) upload(ctx context.Context) error {
	u, err := b.signIn(ctx, "bench_upload")
	if err != nil {
		return err
	}
	store, err := objstore.New(objstore.Config{Endpoint: b.sys.Endpoints.S3Endpoint, AccessKey: b.sys.Endpoints.S3AccessKey,
		SecretKey: b.sys.Endpoints.S3SecretKey, Bucket: b.sys.Endpoints.S3Bucket})
	if err != nil {
		return err
	}
	size := b.o.uploadMiB << 20
	block := make([]byte, 1<<20)
	if _, err := rand.Read(block); err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()

	var relay, direct []time.Duration
	var relayHeap, directHeap uint64
	for i := range b.o.uploadRuns {
		mem := localrun.WatchMemory()
		began := time.Now()
		fileID, err := relayUpload(ctx, client, u, size, block)
		relay = append(relay, time.Since(began))
		relayHeap = max(relayHeap, mem.Finish().Heap)
		if err != nil {
			return err
		}
		// Processing reads the file whole: it ends, and the file goes,
		// before the next measurement.
		if err := u.waitReady(ctx, fileID); err != nil {
			return err
		}
		a, err := u.Del(ctx, "/file/"+fileID)
		if err := check("delete the upload", a, err, http.StatusOK); err != nil {
			return err
		}

		var grant struct {
			UploadURL  string `json:"upload_url"`
			ObjectName string `json:"object_name"`
		}
		a, err = u.JSON(ctx, http.MethodPost, "/file/upload-url", map[string]any{"file_name": "direct.bin", "file_size": size, "file_type": "application/octet-stream"})
		if err := check("POST /file/upload-url", a, err, http.StatusOK); err != nil {
			return err
		}
		if err := a.Decode(&grant); err != nil {
			return err
		}
		mem = localrun.WatchMemory()
		began = time.Now()
		err = presignedPut(ctx, client, grant.UploadURL, size, block)
		direct = append(direct, time.Since(began))
		directHeap = max(directHeap, mem.Finish().Heap)
		if err != nil {
			return err
		}
		if err := store.Delete(ctx, grant.ObjectName); err != nil {
			return err
		}
		b.logf("upload run %d/%d: relay %s, direct PUT %s", i+1, b.o.uploadRuns, relay[i].Round(time.Millisecond), direct[i].Round(time.Millisecond))
	}
	mib := float64(b.o.uploadMiB)
	med := fmt.Sprintf("median of %d", b.o.uploadRuns)
	b.add("upload", figure(fmt.Sprintf("upload %d MiB through the gateway", b.o.uploadMiB), mib/median(relay).Seconds(), mib/median(direct).Seconds(), "MiB/s",
		ratioAtLeast(0.9), "one PUT to a presigned URL of the same S3; "+med))
	b.add("upload", figure("upload: Go heap peak of the process", float64(relayHeap)/(1<<20), float64(directHeap)/(1<<20), "MiB",
		oursBelow(64), "the same process during the direct PUT (the S3 server's buffers)"))
	return nil
}

// repeat reads block over and over: data that costs nothing to make.
type repeat struct {
	block []byte
	off   int
}

func (r *repeat) Read(p []byte) (int, error) {
	n := copy(p, r.block[r.off:])
	r.off = (r.off + n) % len(r.block)
	return n, nil
}

// relayUpload POSTs size bytes as one multipart file part and returns the
// file's id.
func relayUpload(ctx context.Context, client *http.Client, u api, size int64, block []byte) (string, error) {
	var frame bytes.Buffer
	mw := multipart.NewWriter(&frame)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="relay.bin"`)
	h.Set("Content-Type", "application/octet-stream")
	if _, err := mw.CreatePart(h); err != nil {
		return "", err
	}
	head := frame.Len()
	if err := mw.Close(); err != nil {
		return "", err
	}
	prefix, suffix := frame.Bytes()[:head], frame.Bytes()[head:]
	body := io.MultiReader(bytes.NewReader(prefix), io.LimitReader(&repeat{block: block}, size), bytes.NewReader(suffix))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.Base+"/file/upload", body)
	if err != nil {
		return "", err
	}
	req.ContentLength = int64(len(prefix)) + size + int64(len(suffix))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+u.Token)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("relay upload: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	a := localrun.Answer{Status: resp.StatusCode, Body: answer}
	if err := check("relay upload", a, err, http.StatusCreated); err != nil {
		return "", err
	}
	var f uploaded
	if err := a.Decode(&f); err != nil {
		return "", err
	}
	return f.ID, nil
}

// presignedPut PUTs size bytes to a presigned URL.
func presignedPut(ctx context.Context, client *http.Client, url string, size int64, block []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, io.LimitReader(&repeat{block: block}, size))
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		// The URL carries a signature: the error is named without it.
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("direct PUT: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("direct PUT: %d %.300s", resp.StatusCode, answer)
	}
	return nil
}
