package api

import (
	"net/http"

	"github.com/osprey-aiops/osprey/internal/auth"
	"github.com/osprey-aiops/osprey/internal/store"
)

// routeNotifications lists the notification log.
const routeNotifications = "GET /api/v1/notifications"

// notificationsResponse is the reply to GET /api/v1/notifications.
type notificationsResponse struct {
	Notifications []store.Notification `json:"notifications"`
}

// mountNotifications adds the notification-log route.
func (a *API) mountNotifications() {
	a.mux.Handle(routeNotifications, a.auth.Require(auth.RoleViewer, http.HandlerFunc(a.listNotifications)))
}

// listNotifications serves GET /api/v1/notifications?incident=&limit=: the
// log rows of one incident ("" for all), most recently claimed first, with
// their status (sending, sent, failed), attempts and last error.
func (a *API) listNotifications(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if rerr := checkParams(q, "incident", "limit"); rerr != nil {
		writeRequestError(w, rerr)
		return
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	list, err := a.store.ListNotifications(r.Context(), store.NotificationQuery{IncidentID: q.Get("incident"), Limit: limit})
	if err != nil {
		a.storeError(w, "list notifications", err)
		return
	}
	if list == nil {
		list = []store.Notification{}
	}
	writeJSON(w, http.StatusOK, notificationsResponse{Notifications: list})
}
