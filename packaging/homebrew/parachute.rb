# Homebrew formula for parachute, rendered for each release by
# `make dist` (internal/release) into dist/homebrew/parachute.rb with the
# release's version, URLs and SHA-256 checksums. This template is valid Ruby
# as it stands: every placeholder sits inside a string literal.
class Parachute < Formula
  desc "{{.Summary}}"
  homepage "{{.Homepage}}"
  version "{{.Version}}"

  on_macos do
    on_arm do
      url "{{.URL.darwin_arm64}}"
      sha256 "{{.SHA256.darwin_arm64}}"
    end
    on_intel do
      url "{{.URL.darwin_amd64}}"
      sha256 "{{.SHA256.darwin_amd64}}"
    end
  end

  on_linux do
    on_arm do
      url "{{.URL.linux_arm64}}"
      sha256 "{{.SHA256.linux_arm64}}"
    end
    on_intel do
      url "{{.URL.linux_amd64}}"
      sha256 "{{.SHA256.linux_amd64}}"
    end
  end

  def install
    bin.install "parachute"
    bash_completion.install "completions/parachute.bash" => "parachute"
    zsh_completion.install "completions/_parachute"
    fish_completion.install "completions/parachute.fish"
  end

  def caveats
    <<~EOS
      Set up your hub with:
        parachute init
      It creates ~/.parachute and starts the hub (http://127.0.0.1:1939).

      To let Homebrew run the hub at login instead, start it with:
        brew services start parachute
      Use one or the other, not both: each would start a hub on port 1939.
    EOS
  end

  service do
    run [opt_bin/"parachute", "serve"]
    # Restart the hub when it fails (a non-zero exit), not after it stopped
    # cleanly.
    keep_alive successful_exit: false
    environment_variables PATH: std_service_path_env
    log_path var/"log/parachute.log"
    error_log_path var/"log/parachute.log"
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/parachute version")
  end
end
