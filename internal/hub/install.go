package hub

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/install"
	"github.com/openparachute/parachute/internal/manifest"
	"github.com/openparachute/parachute/internal/modops"
	"github.com/openparachute/parachute/internal/settings"
)

func (s *Server) handleInstall(w http.ResponseWriter, r *http.Request) error {
	var b api.InstallBody
	if apiE := api.DecodeJSON(w, r, &b); apiE != nil {
		return apiE
	}
	if apiE := checkOpSource(b.Channel, b.Source); apiE != nil {
		return apiE
	}
	if why := manifest.CheckVaultName(b.VaultName); b.VaultName != "" && why != "" {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "vault_name: %s", why)
	}
	if b.Channel == "" && b.Tag == "" {
		// The admin's stored channel (PUT /api/modules/channel) applies
		// when the request names none and the environment sets none; the
		// installer itself only knows the environment.
		if stored, err := s.storedChannel(r.Context()); err == nil {
			if ch, src, _ := settings.ResolveChannel(stored, os.Getenv); src == settings.SourceSettings {
				b.Channel = ch
			}
		}
	}
	return s.accepted(w)(s.ops.Install(r.PathValue("short"), b))
}

func (s *Server) handleUpgrade(w http.ResponseWriter, r *http.Request) error {
	var b api.UpgradeBody
	if apiE := api.DecodeJSON(w, r, &b); apiE != nil {
		return apiE
	}
	if apiE := checkOpSource(b.Channel, b.From); apiE != nil {
		return apiE
	}
	return s.accepted(w)(s.ops.Upgrade(r.PathValue("short"), b))
}

func (s *Server) handleUninstall(w http.ResponseWriter, r *http.Request) error {
	var b api.UninstallBody
	if apiE := api.DecodeJSON(w, r, &b); apiE != nil {
		return apiE
	}
	return s.accepted(w)(s.ops.Uninstall(r.PathValue("short"), b))
}

// accepted answers a background operation: 202 with its id, or 503
// shutting_down when the hub no longer starts operations.
func (s *Server) accepted(w http.ResponseWriter) func(id string, err error) error {
	return func(id string, err error) error {
		if errors.Is(err, modops.ErrShuttingDown) {
			w.Header().Set("Retry-After", "5")
			return api.Errorf(http.StatusServiceUnavailable, api.CodeShuttingDown, "the hub is shutting down; retry once it is back")
		}
		if err != nil {
			return err
		}
		api.WriteJSON(w, http.StatusAccepted, api.OperationAccepted{OperationID: id})
		return nil
	}
}

// checkOpSource validates a channel and a path source: the hub's working
// directory means nothing to a client, so paths must be absolute.
func checkOpSource(channel, source string) *api.Error {
	if err := install.CheckChannel(channel); err != nil {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidChannel, "%v", err)
	}
	if (strings.HasPrefix(source, ".") || strings.Contains(source, string(filepath.Separator))) &&
		!strings.HasPrefix(source, "@") && !filepath.IsAbs(source) {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidRequest, "source path %q must be absolute", source)
	}
	return nil
}
