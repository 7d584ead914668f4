// Package deploytest holds only tests: they check what an operator deploys
// (deploy/, docker-compose.yml, .env.example and README.md's configuration
// table) against the code and against the real nats-server, so a config that
// the server refuses, a variable that compose never passes or a NATS user
// that may read what it must not fails here and not in production.
package deploytest
