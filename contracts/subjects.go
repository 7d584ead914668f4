package contracts

import "strings"

// Service names as they appear in request subjects (svc.<service>.v1.<op>)
// and in the micro service registry.
const (
	// ServiceGateway names the gateway in its broadcasts (it serves no
	// request subjects).
	ServiceGateway    = "gateway"
	ServiceCredential = "credential"
	ServiceFile       = "file"
	ServiceDataset    = "dataset"
)

// Event domains (evt.<domain>.v1.<event>.<user_id>).
const (
	DomainUser    = "user"
	DomainFile    = "file"
	DomainDataset = "dataset"
)

// Event names.
const (
	EventCreated   = "created"
	EventUpdated   = "updated"
	EventDeleted   = "deleted"
	EventUploaded  = "uploaded"
	EventProcessed = "processed"
	EventConverted = "converted"
	EventFailed    = "failed"
)

// Version is the only contract version so far; within it changes are additive.
const Version = "v1"

// RequestSubject is the request-reply subject of one operation of a service.
func RequestSubject(service, op string) string {
	return "svc." + service + "." + Version + "." + op
}

// EventSubject is the subject of one event about one user's data. The user id
// is always the last token so a subscriber can filter on it.
func EventSubject(domain, event, userID string) string {
	return "evt." + domain + "." + Version + "." + event + "." + userID
}

// EventFilter matches one event of a domain for every user.
func EventFilter(domain, event string) string {
	return EventSubject(domain, event, "*")
}

// DomainFilter matches every event of a domain for every user.
func DomainFilter(domain string) string {
	return "evt." + domain + "." + Version + ".>"
}

// Broadcasts tell every instance of one service about a change at once:
// bcast.<service>.v1.<what>, core NATS subjects each instance subscribes to
// without a queue group. No stream keeps them, so an instance away at that
// moment misses one; what a broadcast invalidates must also expire.
func BroadcastSubject(service, what string) string {
	return "bcast." + service + "." + Version + "." + what
}

// ProvidersRefreshedSubject tells every credential instance that the
// provider catalogue in the store changed (an admin refreshed it).
func ProvidersRefreshedSubject() string {
	return BroadcastSubject(ServiceCredential, "providers_refreshed")
}

// APIKeyInvalidatedSubject tells every gateway instance to drop a personal
// API key from its cache (revoked, deleted, erased or re-scoped).
func APIKeyInvalidatedSubject() string {
	return BroadcastSubject(ServiceGateway, "apikey_invalidated")
}

// CredentialsChangedSubject tells every credential instance that one
// owner's credentials changed (the body is the owner's id), so none keeps
// serving that owner's list from before.
func CredentialsChangedSubject() string {
	return BroadcastSubject(ServiceCredential, "credentials_changed")
}

// Job names (job.<domain>.v1.<job>.<user_id>).
const JobConvert = "convert"

// JobSubject is the subject of a unit of work for one user.
func JobSubject(domain, job, userID string) string {
	return "job." + domain + "." + Version + "." + job + "." + userID
}

// ConvertJobSubject is the dataset conversion job of one user.
func ConvertJobSubject(userID string) string {
	return JobSubject(DomainDataset, JobConvert, userID)
}

// UserIDFromSubject returns the last token of an event or job subject, which
// by convention is the user id.
func UserIDFromSubject(subject string) string {
	i := strings.LastIndexByte(subject, '.')
	if i < 0 {
		return ""
	}
	return subject[i+1:]
}

// Stream names.
const (
	StreamUsers    = "USERS"
	StreamFiles    = "FILES"
	StreamDatasets = "DATASETS"
	StreamJobs     = "JOBS"
)

// Retention says how a stream keeps its messages.
type Retention int

const (
	// RetainLimits keeps messages until the stream's limits drop them (events).
	RetainLimits Retention = iota
	// RetainWorkQueue removes a message once a consumer acknowledged it (jobs).
	RetainWorkQueue
)

// StreamSpec is what every service agrees a stream looks like; replicas and
// limits are deployment choices made where the stream is created.
type StreamSpec struct {
	Name      string
	Subjects  []string
	Retention Retention
}

// Streams lists every JetStream stream of the system.
func Streams() []StreamSpec {
	return []StreamSpec{
		{Name: StreamUsers, Subjects: []string{DomainFilter(DomainUser)}},
		{Name: StreamFiles, Subjects: []string{DomainFilter(DomainFile)}},
		{Name: StreamDatasets, Subjects: []string{DomainFilter(DomainDataset)}},
		{Name: StreamJobs, Subjects: []string{"job." + DomainDataset + "." + Version + ".>"}, Retention: RetainWorkQueue},
	}
}

// StreamFor returns the stream spec with the given name.
func StreamFor(name string) (StreamSpec, bool) {
	for _, s := range Streams() {
		if s.Name == name {
			return s, true
		}
	}
	return StreamSpec{}, false
}

// Durable consumer names: <service>-<what it does>.
const (
	DurableFileProcess         = "fileingest-process-uploaded"
	DurableFileUserErase       = "fileingest-erase-user"
	DurableCredentialUserErase = "credential-erase-user"
	DurableDatasetConvert      = "datasetquery-convert"
	DurableDatasetUserErase    = "datasetquery-erase-user"
	DurableGatewayUserErase    = "gateway-erase-user"
)
