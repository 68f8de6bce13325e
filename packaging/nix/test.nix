# NixOS VM test (a flake check): boot a machine with services.parachute
# enabled and ask the hub for /health. Needs a Nix with KVM and nixpkgs, so
# it runs upstream (nix flake check), not in this repository's Go tests.
{ self }:
{
  name = "parachute";
  # The module adds the flake's overlay to the node's nixpkgs.
  node.pkgsReadOnly = false;
  nodes.machine = { ... }: {
    imports = [ self.nixosModules.default ];
    services.parachute.enable = true;
  };
  testScript = ''
    machine.wait_for_unit("parachute-hub.service")
    machine.wait_for_open_port(1939)
    machine.succeed("curl -sf http://127.0.0.1:1939/health")
    machine.succeed("test \"$(stat -c %U:%a /var/lib/parachute)\" = parachute:750")
    machine.succeed("test \"$(ps -o user= -p $(systemctl show -p MainPID --value parachute-hub))\" = parachute")
  '';
}
