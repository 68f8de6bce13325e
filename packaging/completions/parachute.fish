# fish completion for parachute. The CLI completes itself: it answers
# `--generate-bash-completion` with the words that fit after the ones typed.
function __parachute_complete
    set -l args (commandline -opc)
    set -l current (commandline -ct)
    if string match -q -- '-*' $current
        set args $args $current
    end
    $args --generate-bash-completion 2>/dev/null
end
complete -c parachute -f -a '(__parachute_complete)'
