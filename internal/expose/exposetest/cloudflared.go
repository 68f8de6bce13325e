package exposetest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
)

// TunnelID is the id the fake gives every created tunnel.
const TunnelID = "6ff42ae2-765d-4adf-8112-31c55c1551ef"

type fakeTunnelRow struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	CreatedAt   string `json:"created_at"`
	DeletedAt   string `json:"deleted_at"`
	Connections []any  `json:"connections"`
}

func fakeTunnels() []fakeTunnelRow {
	var rows []fakeTunnelRow
	if b, ok := Read("tunnels.json"); ok {
		json.Unmarshal([]byte(b), &rows)
	}
	return rows
}

// fakeCloudflared plays cloudflared 2025.x for the commands expose runs.
func fakeCloudflared(args []string) int {
	record("cloudflared", args)
	home := os.Getenv("HOME")
	_, certErr := os.Stat(filepath.Join(home, ".cloudflared", "cert.pem"))
	noCert := func() int {
		fmt.Fprintf(os.Stderr, "Cannot determine default origin certificate path. No file cert.pem in [~/.cloudflared ~/.cloudflare-warp ~/cloudflare-warp /etc/cloudflared /usr/local/etc/cloudflared]. "+
			"You need to specify the origin certificate path by specifying the origincert option in the configuration file, or set TUNNEL_ORIGIN_CERT environment variable originCertPath=\n")
		return 1
	}
	switch {
	case len(args) == 4 && args[0] == "tunnel" && args[1] == "--config" && args[3] == "run":
		// The connector: run until SIGTERM, then exit 0 as cloudflared does
		// (so only Restart=always brings it back after `systemctl kill`).
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		if _, deaf := Read("ignore-sigterm"); deaf {
			// A connector wedged in shutdown: only SIGKILL ends it.
			signal.Ignore(syscall.SIGTERM)
		}
		fmt.Fprintf(os.Stderr, "INF Starting tunnel config=%s pid=%d\n", args[2], os.Getpid())
		<-stop
		fmt.Fprintln(os.Stderr, "INF Initiating graceful shutdown due to signal terminated ...")
		return 0
	case slices.Equal(args, []string{"--version"}):
		fmt.Println("cloudflared version 2025.4.0 (built 2025-04-08-1259 UTC)")
		return 0
	case slices.Equal(args, []string{"tunnel", "list", "--output", "json"}):
		if certErr != nil {
			return noCert()
		}
		rows := fakeTunnels()
		if rows == nil {
			rows = []fakeTunnelRow{}
		}
		b, _ := json.MarshalIndent(rows, "", "  ")
		fmt.Println(string(b))
		return 0
	case len(args) == 3 && args[0] == "tunnel" && args[1] == "create":
		if certErr != nil {
			return noCert()
		}
		creds := filepath.Join(home, ".cloudflared", TunnelID+".json")
		os.WriteFile(creds, []byte(`{"AccountTag":"a","TunnelSecret":"s","TunnelID":"`+TunnelID+`"}`), 0o400)
		rows := append(fakeTunnels(), fakeTunnelRow{ID: TunnelID, Name: args[2], CreatedAt: "2026-01-01T00:00:00Z", Connections: []any{}})
		b, _ := json.Marshal(rows)
		os.WriteFile(filepath.Join(fakeDir(), "tunnels.json"), b, 0o600)
		fmt.Printf("Tunnel credentials written to %s. cloudflared chose this file based on where your origin certificate was found. "+
			"Keep this file secret. To revoke these credentials, delete the tunnel.\n\nCreated tunnel %s with id %s\n", creds, args[2], TunnelID)
		return 0
	case len(args) == 6 && args[0] == "tunnel" && args[1] == "route" && args[2] == "dns" && args[3] == "--overwrite-dns":
		if certErr != nil {
			return noCert()
		}
		if _, fail := Read("dns-fail"); fail {
			fmt.Fprintln(os.Stderr, "Failed to add route: code: 1003, reason: An A, AAAA or CNAME record already exists with that host.")
			return 1
		}
		fmt.Fprintf(os.Stderr, "2026-01-01T00:00:00Z INF Added CNAME %s which will route to this tunnel tunnelID=%s\n", args[5], TunnelID)
		return 0
	}
	fmt.Fprintf(os.Stderr, "fake cloudflared: unknown command %q\n", args)
	return 2
}
