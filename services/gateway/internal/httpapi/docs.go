package httpapi

import (
	"embed"
	"net/http"

	"github.com/go-chi/chi/v5"
	swaggerfiles "github.com/swaggo/files/v2"

	"github.com/nonefinity/backend/contracts/rpcerr"
)

// docsUI is our page around Swagger UI; the UI's assets come from the
// swaggo/files module, embedded in the binary, so /docs works offline.
//
//go:embed docsui/index.html docsui/init.js
var docsUI embed.FS

// docsPage serves the interactive API page.
func (a *API) docsPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", docsCSP)
	http.ServeFileFS(w, r, docsUI, "docsui/index.html")
}

// mountDocs serves the page's script and Swagger UI's assets under /docs/.
func (a *API) mountDocs(r chi.Router) {
	r.Get("/docs/init.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, docsUI, "docsui/init.js")
	})
	assets := http.StripPrefix("/docs/", http.FileServerFS(swaggerfiles.FS))
	r.Get("/docs/*", func(w http.ResponseWriter, r *http.Request) {
		switch chi.URLParam(r, "*") {
		case "", "index.html":
			// The module's own page points at a demo API on the internet;
			// ours is /docs.
			http.Redirect(w, r, "/docs", http.StatusMovedPermanently)
			return
		case "swagger-initializer.js":
			a.reject(w, rpcerr.New(rpcerr.NotFound, "no such file"))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		assets.ServeHTTP(w, r)
	})
}
