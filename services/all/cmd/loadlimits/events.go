package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nonefinity/backend/services/all/internal/localrun"
)

// outcomes follows a user's /events stream, as the web client does, and
// wakes whoever waits for a file's processing or a dataset's conversion,
// so B does not poll: polling is requests the run would measure as B's own
// load, and a real client waits for the event.
type outcomes struct {
	mu      sync.Mutex
	seen    map[string][]string // file or dataset id → events so far ("file.processed", …)
	waiters map[string]chan struct{}
	err     error // why the stream ended, once it has
}

// followEvents opens c's event stream and reads it until ctx ends.
func followEvents(ctx context.Context, c *localrun.Client) (*outcomes, error) {
	status, body, err := openStream(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("GET /events: %w", err)
	}
	if body == nil {
		return nil, fmt.Errorf("GET /events: %d", status)
	}
	o := &outcomes{seen: map[string][]string{}, waiters: map[string]chan struct{}{}}
	go func() {
		defer body.Close()
		sc := bufio.NewScanner(body)
		// A processed file's event carries its preview.
		sc.Buffer(make([]byte, 64<<10), 8<<20)
		var name string
		var data strings.Builder
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data.WriteString(strings.TrimPrefix(line, "data: "))
			case line == "":
				o.record(name, data.String())
				name = ""
				data.Reset()
			}
		}
		o.end(cmp.Or(sc.Err(), errors.New("event stream closed")))
	}()
	return o, nil
}

func (o *outcomes) record(name, data string) {
	var ids struct {
		FileID    string `json:"file_id"`
		DatasetID string `json:"dataset_id"`
	}
	if name == "" || json.Unmarshal([]byte(data), &ids) != nil {
		return
	}
	id := cmp.Or(ids.DatasetID, ids.FileID)
	if id == "" {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen[id] = append(o.seen[id], name)
	if w, ok := o.waiters[id]; ok {
		close(w)
		delete(o.waiters, id)
	}
}

func (o *outcomes) end(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.err = err
	for id, w := range o.waiters {
		close(w)
		delete(o.waiters, id)
	}
}

// safetyPoll is how often a waiter asks the API anyway, in case an event
// was missed (the stream is at-most-once for a connection): B's answer
// never depends on the stream alone.
const safetyPoll = time.Second

// wait returns which of names arrived for id (e.g. "file.processed"), or
// "" when poll, asked every safetyPoll, reports the outcome first (done);
// poll's error ends the wait.
func (o *outcomes) wait(ctx context.Context, id string, names []string, poll func() (done bool, err error)) (string, error) {
	t := time.NewTicker(safetyPoll)
	defer t.Stop()
	for {
		o.mu.Lock()
		for _, got := range o.seen[id] {
			if slices.Contains(names, got) {
				delete(o.seen, id)
				o.mu.Unlock()
				return got, nil
			}
		}
		w, ok := o.waiters[id]
		if !ok && o.err == nil {
			w = make(chan struct{})
			o.waiters[id] = w
		}
		streamErr := o.err
		o.mu.Unlock()
		if streamErr != nil {
			return "", fmt.Errorf("events: %w", streamErr)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-w:
		case <-t.C:
			done, err := poll()
			if err != nil || done {
				return "", err
			}
		}
	}
}
