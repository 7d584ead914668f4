package contracts_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nonefinity/backend/contracts"
	cv1 "github.com/nonefinity/backend/contracts/credentialv1"
	dv1 "github.com/nonefinity/backend/contracts/datasetv1"
	fv1 "github.com/nonefinity/backend/contracts/filev1"
	"github.com/nonefinity/backend/contracts/userv1"
)

var requestSubject = regexp.MustCompile(`^svc\.(credential|file|dataset)\.v1\.[a-z_]+$`)

// Every op of every service builds a well-formed subject under the service's
// own prefix (where its micro endpoints are registered), and no two ops of a
// service collide.
func TestOpSubjects(t *testing.T) {
	services := []struct {
		name    string
		ops     []string
		subject func(string) string
	}{
		{contracts.ServiceCredential, cv1.Ops(), cv1.Subject},
		{contracts.ServiceFile, fv1.Ops(), fv1.Subject},
		{contracts.ServiceDataset, dv1.Ops(), dv1.Subject},
	}
	for _, s := range services {
		seen := map[string]bool{}
		for _, op := range s.ops {
			subj := s.subject(op)
			if !requestSubject.MatchString(subj) {
				t.Errorf("%s op %q builds malformed subject %q", s.name, op, subj)
			}
			if prefix := "svc." + s.name + "." + contracts.Version; !strings.HasPrefix(subj, prefix+".") {
				t.Errorf("subject %q is outside %s", subj, prefix)
			}
			if seen[op] {
				t.Errorf("%s lists op %q twice", s.name, op)
			}
			seen[op] = true
		}
		if !seen["health"] {
			t.Errorf("%s has no health op", s.name)
		}
	}
}

// Every event and job lands in exactly one stream, the one of its domain,
// with the owner's id as the last token (what the SSE filter relies on).
func TestEventsLandInTheirStream(t *testing.T) {
	const uid = "65f2a1b3c4d5e6f708192a3b"
	msgs := []struct {
		subject string
		stream  string
	}{
		{userv1.UserCreated{User: userv1.User{ID: uid}}.Subject(), contracts.StreamUsers},
		{userv1.UserUpdated{User: userv1.User{ID: uid}}.Subject(), contracts.StreamUsers},
		{userv1.UserDeleted{UserID: uid}.Subject(), contracts.StreamUsers},
		{fv1.FileUploaded{OwnerID: uid}.Subject(), contracts.StreamFiles},
		{fv1.FileProcessed{OwnerID: uid}.Subject(), contracts.StreamFiles},
		{fv1.FileFailed{OwnerID: uid}.Subject(), contracts.StreamFiles},
		{fv1.FileDeleted{OwnerID: uid}.Subject(), contracts.StreamFiles},
		{dv1.DatasetCreated{OwnerID: uid}.Subject(), contracts.StreamDatasets},
		{dv1.DatasetConverted{OwnerID: uid}.Subject(), contracts.StreamDatasets},
		{dv1.DatasetFailed{OwnerID: uid}.Subject(), contracts.StreamDatasets},
		{dv1.DatasetUpdated{OwnerID: uid}.Subject(), contracts.StreamDatasets},
		{dv1.DatasetDeleted{OwnerID: uid}.Subject(), contracts.StreamDatasets},
		{dv1.ConvertJob{OwnerID: uid}.Subject(), contracts.StreamJobs},
	}
	for _, m := range msgs {
		var in []string
		for _, s := range contracts.Streams() {
			if slices.ContainsFunc(s.Subjects, func(f string) bool { return subjectMatches(f, m.subject) }) {
				in = append(in, s.Name)
			}
		}
		if len(in) != 1 || in[0] != m.stream {
			t.Errorf("%s is captured by streams %v, want only %s", m.subject, in, m.stream)
		}
		if got := contracts.UserIDFromSubject(m.subject); got != uid {
			t.Errorf("%s: user id token %q", m.subject, got)
		}
		if strings.HasPrefix(m.subject, "evt.") && !subjectMatches("evt.*."+contracts.Version+".*."+uid, m.subject) {
			t.Errorf("%s is missed by the user's SSE filter", m.subject)
		}
	}
}

func TestSubjectMatches(t *testing.T) {
	for _, tc := range []struct {
		filter, subject string
		want            bool
	}{
		{"evt.file.v1.>", "evt.file.v1.uploaded.u1", true},
		{"evt.file.v1.>", "evt.file.v1", false},
		{"evt.*.v1.*.u1", "evt.file.v1.uploaded.u1", true},
		{"evt.*.v1.*.u1", "evt.file.v1.uploaded.u2", false},
		{"evt.*.v1.*.u1", "evt.file.v1.uploaded.u1.x", false},
		{"a.b", "a.b", true},
	} {
		if got := subjectMatches(tc.filter, tc.subject); got != tc.want {
			t.Errorf("subjectMatches(%q, %q) = %v", tc.filter, tc.subject, got)
		}
	}
}

// subjectMatches applies NATS wildcard rules: * is one token, > one or more
// trailing tokens.
func subjectMatches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, tok := range f {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(f) == len(s)
}
