package credential

import (
	"errors"
	"strings"
)

// MaxModels caps the model ids a key test reports.
const MaxModels = 200

// A models field says where a provider's reply lists its model ids, as dot
// separated steps: a step is an object key, "key[]" (the key holds an array;
// go through each element) or "[]" (the value itself is that array). For
// example "data[].id" for {"data":[{"id":"gpt-4o"}]}, "[].id" for a bare
// array, "models[].name" for Gemini and Ollama.

type fieldStep struct {
	key  string
	each bool
}

func parseModelsField(field string) ([]fieldStep, error) {
	if field == "" {
		return nil, errors.New("empty models field")
	}
	var steps []fieldStep
	for part := range strings.SplitSeq(field, ".") {
		key, each := strings.CutSuffix(part, "[]")
		if key == "" && !each {
			return nil, errors.New("empty step in models field")
		}
		if strings.ContainsAny(key, "[]") {
			return nil, errors.New("models field step " + part + " is neither key, key[] nor []")
		}
		steps = append(steps, fieldStep{key: key, each: each})
	}
	return steps, nil
}

// ValidateModelsField reports whether field is well formed.
func ValidateModelsField(field string) error {
	_, err := parseModelsField(field)
	return err
}

// ExtractModels returns up to limit model ids found at field in a decoded
// JSON document; ids that are not strings are skipped.
func ExtractModels(doc any, field string, limit int) []string {
	steps, err := parseModelsField(field)
	if err != nil || limit <= 0 {
		return nil
	}
	var out []string
	var walk func(v any, steps []fieldStep)
	walk = func(v any, steps []fieldStep) {
		if len(out) >= limit {
			return
		}
		if len(steps) == 0 {
			if s, ok := v.(string); ok && s != "" {
				out = append(out, s)
			}
			return
		}
		st := steps[0]
		if st.key != "" {
			obj, ok := v.(map[string]any)
			if !ok {
				return
			}
			v = obj[st.key]
		}
		if !st.each {
			walk(v, steps[1:])
			return
		}
		arr, ok := v.([]any)
		if !ok {
			return
		}
		for _, el := range arr {
			if len(out) >= limit {
				return
			}
			walk(el, steps[1:])
		}
	}
	walk(doc, steps)
	return out
}
