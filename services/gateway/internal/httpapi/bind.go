package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/nonefinity/backend/contracts/rpcerr"
)

// maxBodyBytes caps JSON and form bodies (API.md: JSON 1 MiB). Uploads do
// not go through the binder: they are streamed.
const maxBodyBytes = 1 << 20

// Content types the binder reads.
const (
	mediaJSON       = "application/json"
	mediaURLEncoded = "application/x-www-form-urlencoded"
	mediaMultipart  = "multipart/form-data"
)

// bindBody decodes the request body into dst, whatever encoding the client
// chose: API.md promises that every endpoint taking a form also takes the
// same fields as JSON, so one struct serves all three. Form fields are
// matched by the `form` tag, else the `json` name; fields of embedded
// structs count as the outer struct's. An empty body leaves dst as it is.
func bindBody(w http.ResponseWriter, r *http.Request, dst any) *rpcerr.Error {
	switch mediaTypeOf(r) {
	case "", mediaJSON:
		return bindJSON(w, r, dst)
	case mediaURLEncoded:
		return bindURLEncoded(w, r, dst)
	case mediaMultipart:
		return bindMultipart(w, r, dst)
	default:
		return rpcerr.New(rpcerr.UnsupportedMediaType, "unsupported content type: send JSON, a urlencoded form or multipart/form-data")
	}
}

// bindQuery decodes the URL query into dst by the same field names; a
// query type that knows its own bounds (validator) checks them.
func bindQuery(r *http.Request, dst any) *rpcerr.Error {
	if e := decodeValues(r.URL.Query(), dst); e != nil {
		return e
	}
	if v, ok := dst.(validator); ok {
		return v.validate()
	}
	return nil
}

// validator is a bound request that can tell a value out of its range.
type validator interface {
	validate() *rpcerr.Error
}

// mediaTypeOf is the request's media type without parameters, lower case;
// "+json" types count as JSON.
func mediaTypeOf(r *http.Request) string {
	raw := r.Header.Get("Content-Type")
	if raw == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(raw)
	if err != nil {
		return "invalid"
	}
	if strings.HasSuffix(mt, "+json") {
		return mediaJSON
	}
	return mt
}

func tooLarge() *rpcerr.Error {
	return rpcerr.New(rpcerr.TooLarge, "request body exceeds 1 MiB")
}

// readCapped reads the whole body, at most maxBodyBytes.
func readCapped(w http.ResponseWriter, r *http.Request) ([]byte, *rpcerr.Error) {
	if r.ContentLength > maxBodyBytes {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge()
		}
		return nil, rpcerr.New(rpcerr.BadRequest, "could not read the request body")
	}
	return body, nil
}

func bindJSON(w http.ResponseWriter, r *http.Request, dst any) *rpcerr.Error {
	body, rerr := readCapped(w, r)
	if rerr != nil {
		return rerr
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return rpcerr.New(rpcerr.BadRequest, "unexpected data after the JSON body")
	}
	return nil
}

// fieldError is what a custom UnmarshalJSON of a request type returns to
// name the field at fault.
type fieldError struct {
	field, message string
}

func (e *fieldError) Error() string { return e.field + ": " + e.message }

// jsonError names the field a decoding error is about where the decoder
// says so.
func jsonError(err error) *rpcerr.Error {
	var typeErr *json.UnmarshalTypeError
	var fe *fieldError
	switch {
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return rpcerr.New(rpcerr.BadRequest, "request body must be "+describeType(typeErr.Type))
		}
		return rpcerr.Field(rpcerr.BadRequest, typeErr.Field, "must be "+describeType(typeErr.Type))
	case errors.As(err, &fe):
		return rpcerr.Field(rpcerr.BadRequest, fe.field, fe.message)
	}
	return rpcerr.New(rpcerr.BadRequest, "malformed JSON body")
}

// describeType names a Go type the way a client thinks of JSON values.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a valid value"
}

func bindURLEncoded(w http.ResponseWriter, r *http.Request, dst any) *rpcerr.Error {
	body, rerr := readCapped(w, r)
	if rerr != nil {
		return rerr
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return rpcerr.New(rpcerr.BadRequest, "malformed form body")
	}
	return decodeValues(values, dst)
}

// bindMultipart reads the text fields of a multipart form. A file part is
// refused: only POST /file/upload takes files, and it streams them.
func bindMultipart(w http.ResponseWriter, r *http.Request, dst any) *rpcerr.Error {
	if r.ContentLength > maxBodyBytes {
		return tooLarge()
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return rpcerr.New(rpcerr.BadRequest, "malformed multipart body")
	}
	values := url.Values{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return multipartError(err)
		}
		name := part.FormName()
		if part.FileName() != "" {
			part.Close()
			return rpcerr.Field(rpcerr.BadRequest, name, "file fields are not accepted here")
		}
		value, err := io.ReadAll(part)
		part.Close()
		if err != nil {
			return multipartError(err)
		}
		if name != "" {
			values.Add(name, string(value))
		}
	}
	return decodeValues(values, dst)
}

func multipartError(err error) *rpcerr.Error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge()
	}
	return rpcerr.New(rpcerr.BadRequest, "malformed multipart body")
}

// formField is one settable field of a request struct, found by its form
// name.
type formField struct {
	name  string
	index []int
}

// formFieldsCache keeps the field list of each request type: reflection
// over the struct happens once per type, not per request.
var formFieldsCache sync.Map // reflect.Type -> []formField

func formFields(t reflect.Type) []formField {
	if cached, ok := formFieldsCache.Load(t); ok {
		return cached.([]formField)
	}
	fields := collectFormFields(t, nil)
	formFieldsCache.Store(t, fields)
	return fields
}

func collectFormFields(t reflect.Type, prefix []int) []formField {
	var out []formField
	for i := range t.NumField() {
		f := t.Field(i)
		index := append(append([]int(nil), prefix...), i)
		name := fieldName(f)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && name == "" {
			out = append(out, collectFormFields(f.Type, index)...)
			continue
		}
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		out = append(out, formField{name: name, index: index})
	}
	return out
}

// fieldName is the field's form name: the `form` tag, else the `json`
// name; "" when neither names it.
func fieldName(f reflect.StructField) string {
	if tag, ok := f.Tag.Lookup("form"); ok {
		name, _, _ := strings.Cut(tag, ",")
		return name
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// decodeValues sets each field of the struct dst points to from the values
// of its name; absent names leave the field as it is, and an empty value
// counts as absent for every type but string.
func decodeValues(values url.Values, dst any) *rpcerr.Error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return rpcerr.New(rpcerr.UnsupportedMediaType, "this endpoint takes a JSON body")
	}
	rv = rv.Elem()
	for _, f := range formFields(rv.Type()) {
		vals, ok := values[f.name]
		if !ok || len(vals) == 0 {
			continue
		}
		if err := setFromStrings(rv.FieldByIndex(f.index), vals); err != nil {
			return rpcerr.Field(rpcerr.BadRequest, f.name, err.Error())
		}
	}
	return nil
}

// setFromStrings converts form values to v's type. Scalars take the first
// value; []string takes them all (or a JSON array given as one value);
// anything else (objects, arrays of objects) is read as JSON text, which is
// how a form carries a schema or headers.
func setFromStrings(v reflect.Value, vals []string) error {
	first := vals[0]
	if v.Kind() == reflect.Pointer {
		if first == "" && v.Type().Elem().Kind() != reflect.String {
			return nil
		}
		elem := reflect.New(v.Type().Elem())
		if err := setFromStrings(elem.Elem(), vals); err != nil {
			return err
		}
		v.Set(elem)
		return nil
	}
	if first == "" && v.Kind() != reflect.String {
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(first)
	case reflect.Bool:
		b, ok := parseFormBool(first)
		if !ok {
			return errors.New("must be true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(first), 10, v.Type().Bits())
		if err != nil {
			return errors.New("must be an integer")
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(first), 10, v.Type().Bits())
		if err != nil {
			return errors.New("must be a non-negative integer")
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(strings.TrimSpace(first), v.Type().Bits())
		if err != nil {
			return errors.New("must be a number")
		}
		v.SetFloat(f)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String && !(len(vals) == 1 && strings.HasPrefix(strings.TrimSpace(first), "[")) {
			v.Set(reflect.ValueOf(append([]string(nil), vals...)).Convert(v.Type()))
			return nil
		}
		return setFromJSON(v, first)
	default:
		return setFromJSON(v, first)
	}
	return nil
}

func setFromJSON(v reflect.Value, text string) error {
	target := reflect.New(v.Type())
	if err := json.Unmarshal([]byte(text), target.Interface()); err != nil {
		return fmt.Errorf("must be JSON: %s", describeType(v.Type()))
	}
	v.Set(target.Elem())
	return nil
}

// parseFormBool accepts the spellings HTML forms and the original
// service's framework accept.
func parseFormBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "on", "t", "y":
		return true, true
	case "false", "0", "no", "off", "f", "n":
		return false, true
	}
	return false, false
}
