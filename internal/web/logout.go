package web

import "net/http"

// logout is POST /logout (after the CSRF middleware): the session row is
// deleted and the cookie cleared.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if err := h.sess.End(w, r); err != nil {
		h.internalError(w, r, err)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
