package main

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/nonefinity/backend/services/all/internal/localrun"
)

// api is one signed-in user; every call that does not answer 2xx is an
// error, which ends the run.
type api struct{ *localrun.Client }

func (b *bench) signIn(ctx context.Context, clerkID string) (api, error) {
	c, err := localrun.SignIn(ctx, b.sys.API, clerkID)
	return api{c}, err
}

// check turns a transport error or an answer other than want into an error.
func check(what string, a localrun.Answer, err error, want int) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if a.Status != want {
		return fmt.Errorf("%s: %s (want %d)", what, a, want)
	}
	return nil
}

// getOK GETs path, wants 200 and decodes the envelope's data into out.
func (c api) getOK(ctx context.Context, path string, out any) error {
	a, err := c.Get(ctx, path)
	if err := check("GET "+path, a, err, 200); err != nil {
		return err
	}
	return a.Decode(out)
}

// formOK POSTs a form, wants the status and decodes the data into out
// (nil: not decoded).
func (c api) formOK(ctx context.Context, path string, v url.Values, want int, out any) error {
	a, err := c.Form(ctx, path, v)
	if err := check("POST "+path, a, err, want); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return a.Decode(out)
}

// uploaded is the part of a file reply the harness reads.
type uploaded struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

// upload sends data through the gateway's multipart route and waits until
// processing has finished with it.
func (c api) upload(ctx context.Context, name, contentType string, data []byte) (string, error) {
	a, err := c.Upload(ctx, name, contentType, data)
	if err := check("upload "+name, a, err, 201); err != nil {
		return "", err
	}
	var f uploaded
	if err := a.Decode(&f); err != nil {
		return "", err
	}
	return f.ID, c.waitReady(ctx, f.ID)
}

// processTimeout bounds the wait for a file's processing (a 1 GiB upload
// is read once whole).
const processTimeout = 5 * time.Minute

// waitReady asks for the file until processing has finished with it; the
// wait is never part of a measurement.
func (c api) waitReady(ctx context.Context, id string) error {
	deadline := time.Now().Add(processTimeout)
	for {
		var f uploaded
		if err := c.getOK(ctx, "/file/"+id, &f); err != nil {
			return err
		}
		switch f.Status {
		case "ready":
			return nil
		case "failed":
			return fmt.Errorf("processing of file %s failed: %s", id, f.Error)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("file %s not processed within %s (status %q)", id, processTimeout, f.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
