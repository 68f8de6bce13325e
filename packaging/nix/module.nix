# NixOS module: services.parachute runs the hub as a system service. The
# service itself is generated from the same unit model as the deb's and
# rpm's unit (unit.nix); this module only supplies the options.
{ config, lib, pkgs, ... }:

let
  cfg = config.services.parachute;
  hubUnit = import ./unit.nix;
in
{
  options.services.parachute = {
    enable = lib.mkEnableOption "the Parachute hub (parachute serve and its module supervisor)";

    package = lib.mkOption {
      type = lib.types.package;
      default = pkgs.parachute;
      defaultText = lib.literalExpression "pkgs.parachute";
      description = "The parachute package (the flake's overlay provides pkgs.parachute).";
    };

    user = lib.mkOption {
      type = lib.types.str;
      default = "parachute";
      description = ''
        The account the hub and its modules run as. The default account is
        created; another one must exist. The state lives in
        /var/lib/parachute either way.
      '';
    };

    group = lib.mkOption {
      type = lib.types.str;
      default = "parachute";
      description = "The group of the hub; it may read the operator token.";
    };

    port = lib.mkOption {
      type = lib.types.port;
      default = 1939;
      description = "The hub's HTTP port.";
    };

    listenAddress = lib.mkOption {
      type = lib.types.str;
      default = "127.0.0.1";
      example = "0.0.0.0";
      description = ''
        The address the hub binds. The default keeps it on loopback; set
        0.0.0.0 (with openFirewall) to reach it from other machines.
      '';
    };

    openFirewall = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Open the hub's port in the firewall.";
    };

    path = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = [ ];
      example = lib.literalExpression "[ pkgs.bun pkgs.nodejs ]";
      description = "Programs on the PATH of the hub and its modules (e.g. bun for JavaScript modules).";
    };
  };

  config = lib.mkIf cfg.enable {
    warnings = lib.optional (cfg.openFirewall && cfg.listenAddress == "127.0.0.1")
      "services.parachute.openFirewall opens port ${toString cfg.port}, but the hub listens on 127.0.0.1 only; set services.parachute.listenAddress.";

    users.users = lib.mkIf (cfg.user == "parachute") {
      parachute = {
        isSystemUser = true;
        group = cfg.group;
        home = "/var/lib/parachute";
        description = "Parachute hub";
      };
    };
    users.groups = lib.mkIf (cfg.group == "parachute") { parachute = { }; };

    environment.systemPackages = [ cfg.package ];

    systemd.services.parachute-hub = (hubUnit {
      inherit (cfg) package user group port;
      environment = lib.optionalAttrs (cfg.listenAddress != "127.0.0.1") {
        PARACHUTE_BIND_HOST = cfg.listenAddress;
      };
    }) // {
      path = cfg.path;
    };

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ cfg.port ];
  };
}
