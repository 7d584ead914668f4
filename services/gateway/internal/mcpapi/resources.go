package mcpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/nonefinity/backend/contracts/rpcerr"
	"github.com/nonefinity/backend/services/gateway/internal/access"
)

// datasetScheme is the URI scheme of the dataset resources:
// dataset://<name> is the dataset's schema and first rows.
const datasetScheme = "dataset://"

const resourceMIME = "application/json"

func (s *Server) addResources() {
	s.mcp.AddResourceTemplate(&mcp.ResourceTemplate{
		Name:        "dataset",
		Title:       "A dataset",
		URITemplate: datasetScheme + "{name}",
		Description: "One of the user's datasets: its schema and first rows (describe_dataset's result). Needs datasets:read.",
		MIMEType:    resourceMIME,
	}, s.readDataset)
}

// listResources answers resources/list with the caller's datasets: the
// server's resources are per user, so they are listed per request rather
// than registered.
func (s *Server) listResources(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method != "resources/list" {
			return next(ctx, method, req)
		}
		if err := require(ctx, access.DatasetsRead); err != nil {
			return nil, s.resourceError(ctx, err)
		}
		ctx, cancel := s.call(ctx)
		defer cancel()
		ds, _, err := s.allDatasets(ctx)
		if err != nil {
			return nil, s.resourceError(ctx, err)
		}
		out := &mcp.ListResourcesResult{Resources: make([]*mcp.Resource, len(ds)), Cacheable: mcp.Cacheable{CacheScope: cachePrivate}}
		for i, d := range ds {
			out.Resources[i] = &mcp.Resource{URI: datasetURI(d.Name), Name: d.Name, Description: d.Description, MIMEType: resourceMIME}
		}
		return out, nil
	}
}

func datasetURI(name string) string { return datasetScheme + url.PathEscape(name) }

// readDataset serves dataset://<name>: describe_dataset's result as JSON.
// Another user's dataset is not found, as one that does not exist.
func (s *Server) readDataset(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	name, err := url.PathUnescape(strings.TrimPrefix(uri, datasetScheme))
	if err != nil || !strings.HasPrefix(uri, datasetScheme) || name == "" {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	if err := require(ctx, access.DatasetsRead); err != nil {
		return nil, s.resourceError(ctx, err)
	}
	ctx, cancel := s.call(ctx)
	defer cancel()
	d, err := s.describeDataset(ctx, DatasetName{Name: name})
	if err != nil {
		if re, ok := rpcerr.As(err); ok && re.Code == rpcerr.NotFound {
			return nil, mcp.ResourceNotFoundError(uri)
		}
		return nil, s.resourceError(ctx, err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, s.resourceError(ctx, err)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: resourceMIME, Text: string(b)}}}, nil
}

// resourceError is a failed resource request as a JSON-RPC error carrying
// the public error: resources have no error result as tools do.
func (s *Server) resourceError(ctx context.Context, err error) error {
	pub := s.public(ctx, "MCP resources", err)
	code := int64(jsonrpc.CodeInvalidParams)
	if pub.HTTPStatus() >= 500 {
		code = jsonrpc.CodeInternalError
	}
	data, mErr := json.Marshal(pub)
	if mErr != nil {
		return errors.Join(pub, mErr)
	}
	return &jsonrpc.Error{Code: code, Message: (&toolFailure{pub: pub}).Error(), Data: data}
}
