# The parachute package: the static hub binary built from this repository
# with buildGoModule, plus the packaged systemd units (pointing at the store
# path) and shell completions. flake.nix calls it with the pinned vendorHash.
{
  lib,
  buildGoModule,
  installShellFiles,
  src,
  version,
  rev ? "",
  vendorHash,
}:

buildGoModule {
  pname = "parachute";
  inherit src version vendorHash;

  subPackages = [ "cmd/parachute" ];
  env.CGO_ENABLED = 0;
  # The same tags as every release binary (internal/release.BuildTags).
  tags = [ "urfave_cli_no_docs" ];
  ldflags = [
    "-s"
    "-w"
    "-X github.com/openparachute/parachute/internal/buildinfo.Version=${version}"
    "-X github.com/openparachute/parachute/internal/buildinfo.Commit=${rev}"
  ];

  nativeBuildInputs = [ installShellFiles ];

  # The sandbox has no systemd, D-Bus or network; the tests that need them
  # skip themselves, the rest are quick.
  checkFlags = [ "-short" ];

  postInstall = ''
    for scope in system user; do
      src_unit=packaging/systemd/parachute-hub.service
      [ "$scope" = user ] && src_unit=packaging/systemd/user/parachute-hub.service
      install -Dm644 "$src_unit" "$out/lib/systemd/$scope/parachute-hub.service"
      substituteInPlace "$out/lib/systemd/$scope/parachute-hub.service" \
        --replace-fail /usr/bin/parachute "$out/bin/parachute"
    done
    installShellCompletion --cmd parachute \
      --bash packaging/completions/parachute.bash \
      --zsh packaging/completions/_parachute \
      --fish packaging/completions/parachute.fish
  '';

  meta = {
    description = "Local hub and supervisor for Parachute modules";
    homepage = "https://github.com/openparachute/parachute";
    mainProgram = "parachute";
    platforms = lib.platforms.linux ++ lib.platforms.darwin;
  };
}
