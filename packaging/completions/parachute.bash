# bash completion for parachute. The CLI completes itself: it answers
# `--generate-bash-completion` with the words that fit after the ones typed.
_parachute() {
	local cur words
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	words=("${COMP_WORDS[@]:0:COMP_CWORD}")
	if [[ $cur == -* ]]; then
		words+=("$cur")
	fi
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$("${words[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
}
complete -o bashdefault -o default -F _parachute parachute
