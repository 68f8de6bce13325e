package hub

import (
	"bufio"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// helperModuleHandler is what the helper module (TestHelperModule) serves,
// chosen by the last path segment:
//
//	…/headers  the path, host and request headers it received, as JSON
//	…/ws       a WebSocket echo (RFC 6455 by hand: hijack and handshake)
//	…/sse      server-sent events: "data: 0" at once, then one event per
//	           POST …/next; or, with ?ticks=N&every=D, N events D apart
//	…/next     releases the next event of every open /sse stream
//	…/upload   reads the body and answers "<bytes> <sha256>"
//	…/setcookie  answers with a Set-Cookie line per ?c= value
//	…/hang     never answers: holds the request until the hub leaves
//	otherwise  "<name> <path> auth=<Authorization>"
func helperModuleHandler(name string) http.Handler {
	next := make(chan struct{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:] {
		case "headers":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "host": r.Host, "headers": r.Header})
		case "setcookie":
			for _, c := range r.URL.Query()["c"] {
				w.Header().Add("Set-Cookie", c)
			}
		case "hang":
			<-r.Context().Done() // a wedged module: no headers, ever
		case "ws":
			wsEcho(w, r)
		case "sse":
			sse(w, r, next)
		case "next":
			select {
			case next <- struct{}{}:
				fmt.Fprint(w, "sent")
			case <-r.Context().Done():
			}
		case "upload":
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
		default:
			fmt.Fprintf(w, "%s %s auth=%q", name, r.URL.Path, r.Header.Get("Authorization"))
		}
	})
}

// sse streams events "data: <i>\n\n", flushing each.
func sse(w http.ResponseWriter, r *http.Request, next <-chan struct{}) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	ticks, _ := strconv.Atoi(r.URL.Query().Get("ticks"))
	every, _ := time.ParseDuration(r.URL.Query().Get("every"))
	var tick <-chan time.Time
	if ticks > 0 {
		t := time.NewTicker(every) // the stream's pace, as a real feed has
		defer t.Stop()
		tick = t.C
	}
	for i := 0; ; i++ {
		if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if ticks > 0 && i+1 >= ticks {
			return
		}
		select {
		case <-next:
		case <-tick:
		case <-r.Context().Done():
			return
		}
	}
}

// wsGUID is the RFC 6455 handshake constant.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsAccept is the Sec-WebSocket-Accept value for key.
func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// wsEcho upgrades the connection and echoes every text or binary frame
// until the client closes it.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || r.Header.Get("Sec-WebSocket-Key") == "" {
		http.Error(w, "websocket upgrade expected", http.StatusBadRequest)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	if brw.Flush() != nil {
		return
	}
	for {
		op, payload, err := wsReadFrame(brw.Reader)
		if err != nil || op == 0x8 { // error or close
			return
		}
		if wsWriteFrame(conn, op, payload, false) != nil {
			return
		}
	}
}

// wsReadFrame reads one unfragmented frame, unmasking it if masked.
func wsReadFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 {
		return 0, nil, errors.New("fragmented frames are not supported by this test helper")
	}
	op = h[0] & 0x0f
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("frame of %d bytes is too large for this test helper", n)
	}
	var mask [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err = io.ReadFull(br, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(br, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	return op, payload, nil
}

// wsWriteFrame writes one final frame; a client masks (RFC 6455 §5.3),
// with a fixed key here, which is enough for a test.
func wsWriteFrame(w io.Writer, op byte, payload []byte, mask bool) error {
	b := []byte{0x80 | op}
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n < 1<<16:
		b = append(b, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	p := payload
	if mask {
		key := [4]byte{0x12, 0x34, 0x56, 0x78}
		b = append(b, key[:]...)
		p = make([]byte, len(payload))
		for i := range payload {
			p[i] = payload[i] ^ key[i%4]
		}
	}
	_, err := w.Write(append(b, p...))
	return err
}
