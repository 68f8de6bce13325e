package hub

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"github.com/openparachute/parachute/internal/api"
	"github.com/openparachute/parachute/internal/settings"
)

// The module install channel: which npm dist-tag an install from the API
// uses when its body names none. As in the reference, the environment
// (PARACHUTE_INSTALL_CHANNEL, then the legacy PARACHUTE_MODULE_CHANNEL)
// wins on every read, then hub_settings.module_install_channel, then
// "latest"; PUT /api/modules/channel writes the setting, GET /api/modules
// reports the result as module_install_channel.

// handleModulesChannel serves GET (parachute:host:auth, like GET
// /api/modules, which shows the same value) and PUT (parachute:host:admin,
// like install: it changes what every later install fetches) of
// /api/modules/channel. The reference had only the PUT.
func (s *Server) handleModulesChannel(w http.ResponseWriter, r *http.Request) {
	s.getPut(s.authed("parachute:host:auth", s.getModulesChannel), s.admin(s.putModulesChannel))(w, r)
}

func (s *Server) getModulesChannel(w http.ResponseWriter, r *http.Request) error {
	stored, err := s.storedChannel(r.Context())
	if err != nil {
		return err
	}
	api.WriteJSON(w, http.StatusOK, channelView(stored))
	return nil
}

func (s *Server) putModulesChannel(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Channel *string `json:"channel"`
	}
	if err := api.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Channel == nil || !settings.ValidChannel(*body.Channel) {
		got := "nothing"
		if body.Channel != nil {
			got = fmt.Sprintf("%q", *body.Channel)
		}
		return api.Errorf(http.StatusBadRequest, api.CodeInvalidChannel,
			`channel must be one of: latest, rc (got %s); send {"channel": "rc"} or {"channel": "latest"}`, got)
	}
	a := s.auth.Load()
	if a == nil {
		return api.Errorf(http.StatusServiceUnavailable, api.CodeStarting, "the hub is still starting; retry in a moment")
	}
	if err := settings.Set(r.Context(), a.DB(), settings.ModuleInstallChannel, *body.Channel, s.now()); err != nil {
		return err
	}
	v := channelView(*body.Channel)
	s.log.Info("module install channel changed", "channel", v.Channel, "effective", v.EffectiveChannel, "source", v.Source)
	api.WriteJSON(w, http.StatusOK, v)
	return nil
}

// storedChannel reads the stored channel; "" when none is stored or the
// token store (hub.db) is not open yet.
func (s *Server) storedChannel(ctx context.Context) (string, error) {
	a := s.auth.Load()
	if a == nil {
		return "", nil
	}
	v, _, err := settings.Get(ctx, a.DB(), settings.ModuleInstallChannel)
	return v, err
}

// installChannel is the channel installs use now, for GET /api/modules and
// for install requests that name none. A hub.db that cannot be read
// falls back to the environment and the default (and is logged): the
// catalogue must not fail over a setting.
func (s *Server) installChannel(ctx context.Context) string {
	stored, err := s.storedChannel(ctx)
	if err != nil {
		s.log.Warn("reading the module install channel setting", "err", err)
	}
	ch, _, _ := settings.ResolveChannel(stored, os.Getenv)
	return ch
}

// channelView is the GET/PUT answer for a stored channel.
func channelView(stored string) api.ModulesChannel {
	ch, src, warns := settings.ResolveChannel(stored, os.Getenv)
	v := api.ModulesChannel{Channel: stored, EffectiveChannel: ch, Source: src}
	if v.Channel == "" || !settings.ValidChannel(v.Channel) {
		v.Channel = settings.DefaultChannel
	}
	if src == settings.SourceEnv && v.Channel != ch {
		warns = append(warns, fmt.Sprintf("the hub's environment sets the channel to %s, which overrides the stored %s; unset %s in the hub's service environment to use the stored choice",
			ch, v.Channel, settings.ChannelEnv[0]))
	}
	if len(warns) > 0 {
		v.Warning = warns[len(warns)-1]
	}
	return v
}
