{
  description = "parachute: the local hub and supervisor for Parachute modules";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});

      # The NAR hash of `go mod vendor`. TestFlakeVendorHash fails when it
      # is stale; `make nix-hash` rewrites it.
      vendorHash = "sha256-mZp7TArDF3eC+z5DIhRaLYPmP390c7q6cTorhs+5dgc=";

      # go.mod asks for Go 1.26; buildGoModule pins GOTOOLCHAIN=local.
      parachuteFor = pkgs: pkgs.callPackage ./packaging/nix/package.nix {
        buildGoModule = pkgs.buildGo126Module or pkgs.buildGoModule;
        src = self;
        version = "0.0.0-${self.lastModifiedDate or "19700101000000"}-${self.shortRev or "dirty"}";
        rev = self.rev or "dirty";
        inherit vendorHash;
      };
    in
    {
      overlays.default = final: prev: { parachute = parachuteFor final; };

      packages = forAllSystems (pkgs: rec {
        parachute = parachuteFor pkgs;
        default = parachute;
      });

      # `nix run` starts the hub in the foreground: parachute serve.
      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = toString (pkgs.writeShellScript "parachute-serve" ''
            exec ${self.packages.${pkgs.system}.default}/bin/parachute serve "$@"
          '');
        };
      });

      nixosModules.default = { ... }: {
        imports = [ ./packaging/nix/module.nix ];
        nixpkgs.overlays = [ self.overlays.default ];
      };

      checks = forAllSystems (pkgs:
        { package = self.packages.${pkgs.system}.default; }
        // nixpkgs.lib.optionalAttrs pkgs.stdenv.isLinux {
          nixos = pkgs.testers.runNixOSTest (import ./packaging/nix/test.nix { inherit self; });
        });
    };
}
