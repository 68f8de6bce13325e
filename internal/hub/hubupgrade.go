package hub

import (
	"net/http"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/install"
)

// handleHubUpgrade starts a hub self-upgrade (modops.Manager.UpgradeHub)
// and answers 202 with its operation.
func (s *Server) handleHubUpgrade(w http.ResponseWriter, r *http.Request) error {
	// Detection (10 s), the smoke test (15 s) and starting the helper
	// (30 s) can together outlast WriteTimeout.
	extendWriteDeadline(w, s.limits.LongWriteTimeout)
	var b api.HubUpgradeBody
	if apiE := api.DecodeJSON(w, r, &b); apiE != nil {
		return apiE
	}
	if err := install.CheckChannel(b.Channel); err != nil {
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidChannel, "%v", err)
	}
	acc, err := s.ops.UpgradeHub(r.Context(), b)
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusAccepted, acc)
	return nil
}

// handleHubUpgradeStatus answers the hub-upgrade status file, settled.
func (s *Server) handleHubUpgradeStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := s.ops.HubUpgradeStatus()
	if err != nil {
		return api.Errorf(http.StatusInternalServerError, api.CodeStatusUnreadable, "%v", err)
	}
	if st == nil {
		return api.Errorf(http.StatusNotFound, api.CodeNotFound, "no hub upgrade has been started")
	}
	api.WriteJSON(w, http.StatusOK, st)
	return nil
}
