package cli

import (
	"bufio"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPickScribeProvider(t *testing.T) {
	tests := []struct {
		name, answers, key string
		keyErr             error
		want               scribeChoice
		wantOut            string // a substring of the output
	}{
		{name: "empty skips", answers: "\n", want: scribeChoice{}, wantOut: "Leaving scribe at its default"},
		{name: "s skips", answers: " S \n", want: scribeChoice{}},
		{name: "by number, local", answers: "2\n", want: scribeChoice{provider: "onnx-asr"}},
		{name: "by name, cloud with key", answers: "Groq\n", key: " gsk_1 \n", want: scribeChoice{"groq", "gsk_1"}, wantOut: "Paste your GROQ_API_KEY"},
		{name: "cloud, key skipped", answers: "5\n", key: "", want: scribeChoice{provider: "openai"}, wantOut: "add OPENAI_API_KEY to scribe/.env later"},
		{name: "cloud, key unreadable", answers: "4\n", keyErr: errors.New("no tty"), want: scribeChoice{provider: "groq"}},
		{name: "retries then picks", answers: "9\nbanana\nwhisper\n", want: scribeChoice{provider: "whisper"}, wantOut: `got "banana"`},
		{name: "gives up after five", answers: "x\nx\nx\nx\nx\n1\n", want: scribeChoice{}, wantOut: "Too many invalid answers"},
		{name: "EOF", answers: "zz", want: scribeChoice{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			got := pickScribeProvider(bufio.NewReader(strings.NewReader(tt.answers)), &out,
				func() (string, error) { return tt.key, tt.keyErr })
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(scribeChoice{})); diff != "" {
				t.Errorf("choice (-want +got):\n%s", diff)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output lacks %q:\n%s", tt.wantOut, out.String())
			}
			if tt.key != "" && strings.Contains(out.String(), strings.TrimSpace(tt.key)) {
				t.Errorf("the key was echoed:\n%s", out.String())
			}
		})
	}
}
