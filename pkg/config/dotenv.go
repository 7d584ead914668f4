package config

import (
	"errors"
	"io/fs"
	"maps"
	"os"

	"github.com/joho/godotenv"
)

// environWithFiles returns the process environment completed by ".env" in
// the working directory (when present) and by the file ENV_FILE names (which
// must exist). Files only fill gaps: a variable set in the process always
// keeps its value, and ENV_FILE overrides ".env". Nothing is written back to
// the process environment.
func environWithFiles(process map[string]string) (map[string]string, error) {
	merged := map[string]string{}

	dotenv, err := readEnvFile(".env")
	switch {
	case errors.Is(err, errFileNotFound):
		// no .env is the normal case in containers
	case err != nil:
		return nil, &Error{Problems: []error{VarError{Var: ".env", Problem: err.Error()}}}
	default:
		maps.Copy(merged, dotenv)
	}

	if name := process["ENV_FILE"]; name != "" {
		extra, err := readEnvFile(name)
		if err != nil {
			return nil, &Error{Problems: []error{VarError{Var: "ENV_FILE", Problem: err.Error()}}}
		}
		maps.Copy(merged, extra)
	}

	maps.Copy(merged, process)
	return merged, nil
}

var errFileNotFound = problem("file not found")

// readEnvFile parses a dotenv file. Its errors are rewritten because
// godotenv's parse errors quote the surrounding file content.
func readEnvFile(name string) (map[string]string, error) {
	f, err := os.Open(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errFileNotFound
	case errors.Is(err, fs.ErrPermission):
		return nil, problem("permission denied")
	case err != nil:
		return nil, problem("cannot open the file")
	}
	defer f.Close()
	vars, err := godotenv.Parse(f)
	if err != nil {
		return nil, problem("cannot parse the file (expected KEY=value lines)")
	}
	return vars, nil
}
