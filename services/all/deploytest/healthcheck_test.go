package deploytest

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nonefinity/backend/pkg/testkit"
)

// TestComposeHealthchecksRunTheServiceBinaries builds the four service
// binaries and runs each Go container's compose health check command with
// them, against a stand-in for the process's /health: it must pass while
// /health answers 200 and fail on a 503 or when nothing listens. The binary
// sits where the command expects it in the image (deploy/docker).
func TestComposeHealthchecksRunTheServiceBinaries(t *testing.T) {
	root := testkit.RepoRoot(t)
	compose := loadCompose(t)
	bin := t.TempDir()
	var pkgs []string
	for _, name := range sortedKeys(goServices()) {
		pkgs = append(pkgs, "./services/"+name+"/cmd/"+name)
	}
	build := exec.Command("go", append([]string{"build", "-o", bin + "/"}, pkgs...)...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", pkgs, err, out)
	}

	for _, name := range sortedKeys(compose.Services) {
		svc := compose.Services[name]
		if svc.Build == nil {
			continue
		}
		binary := svc.Build.Args["SERVICE"]
		t.Run(name, func(t *testing.T) {
			if svc.Healthcheck == nil || len(svc.Healthcheck.Test) < 3 || svc.Healthcheck.Test[0] != "CMD" {
				t.Fatalf("no [CMD, binary, args...] health check: %+v", svc.Healthcheck)
			}
			inImage := svc.Healthcheck.Test[1]
			dockerfile, err := os.ReadFile(filepath.Join(root, svc.Build.Dockerfile))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(dockerfile), "ENTRYPOINT [\""+inImage+"\"]") {
				t.Fatalf("%s does not install the service as %s", svc.Build.Dockerfile, inImage)
			}

			health := testkit.HealthServer(t)
			_, port, _ := net.SplitHostPort(health.Addr)

			probe := func() error {
				cmd := exec.Command(filepath.Join(bin, binary), svc.Healthcheck.Test[2:]...)
				cmd.Dir = t.TempDir() // no .env from the repository
				// The gateway answers on its API port, the others on OPS_ADDR;
				// both point at the stand-in, each set as compose sets it.
				// The probe loads the service's configuration, so credential
				// needs its keys as in its container.
				cmd.Env = []string{
					"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
					"APP_ENV=dev", "APP_HOST=0.0.0.0", "APP_PORT=" + port, "OPS_ADDR=:" + port,
					"CREDENTIAL_SECRET_KEY=" + newSecret(t), "CREDENTIAL_ENCRYPTION_SALT=" + newSecret(t),
				}
				out, err := cmd.CombinedOutput()
				if err != nil {
					return errors.New(strings.TrimSpace(string(out)))
				}
				return nil
			}
			if err := probe(); err != nil {
				t.Fatalf("health check fails against a healthy process: %v", err)
			}
			health.SetStatus(http.StatusServiceUnavailable)
			if err := probe(); err == nil {
				t.Fatal("health check passes against a process answering 503")
			}
			health.Close()
			if err := probe(); err == nil {
				t.Fatal("health check passes with nothing listening")
			}
		})
	}
}
