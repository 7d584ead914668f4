package httpapi

import "net/http"

// Authenticate exposes the authentication middleware to the benchmarks of
// package httpapi_test, which measure it alone.
func (a *API) Authenticate(next http.Handler) http.Handler { return a.authenticate(next) }
