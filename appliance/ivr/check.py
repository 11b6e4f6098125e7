"""`appliance config check` for IVR flows: what a parsed graph can still get wrong.

- Missing prompt files: **error**. The engine converts every prompt once at load, and a caller
  who hears silence in place of a menu cannot choose; a reload with a missing prompt must
  change nothing rather than put live callers in front of a silent menu.
- Unreachable nodes: **warning**. They harm no call, but they are usually a typo in a `next`
  or an option; the box still starts.
- Loops that spin without input: a cycle of goto / schedule / lookup / back nodes (none takes
  time or waits for the caller) would run forever inside one tick: **error**. A cycle whose
  nodes only play prompts or record (none waits for a digit) keeps the caller forever with no
  way out: **warning** (a deliberate "please hold" loop is possible, but rare in an IVR).
- A `back` node without a fallback that a call can reach before any menu, or that is an
  option of the first menu a call enters: **warning**; such a call has no menu to go back to
  and is hung up.
"""

from appliance.config.issues import ConfigIssue, key_path

from .flows import NodeType

# Nodes that wait for the caller's digits.
_WAITS_FOR_INPUT = {NodeType.MENU, NodeType.COLLECT}
# Nodes that take time without waiting for input (a prompt plays or a message records).
_TAKES_TIME = {NodeType.PLAY, NodeType.VOICEMAIL}


def _edges(flows):
    return {name: [t for _, t in node.targets() if t in flows.nodes]
            for name, node in flows.nodes.items()}


def _reachable(edges, roots):
    seen = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n in seen or n not in edges:
            continue
        seen.add(n)
        stack.extend(edges[n])
    return seen


def _cycles(edges, keep):
    """Strongly connected components of the subgraph of `keep` nodes that hold a cycle
    (Tarjan's algorithm, iterative), each as a sorted list."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(keep):
        if root in index:
            continue
        work = [(root, iter(sorted(t for t in edges[root] if t in keep)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for t in it:
                if t not in index:
                    index[t] = low[t] = counter
                    counter += 1
                    stack.append(t)
                    on_stack.add(t)
                    work.append((t, iter(sorted(x for x in edges[t] if x in keep))))
                    advanced = True
                    break
                if t in on_stack:
                    low[node] = min(low[node], index[t])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    x = stack.pop()
                    on_stack.discard(x)
                    comp.append(x)
                    if x == node:
                        break
                if len(comp) > 1 or node in edges[node]:
                    out.append(sorted(comp))
    return sorted(out)


def check_flows(flows, prompt_exists, entries=()):
    """Finds unreachable nodes, missing prompt files and loops without input.

    prompt_exists(path) -> bool is asked for each place a prompt may be (Flows.prompt_paths:
    the prompt under each prompt directory); a prompt is missing if none exists. entries: the
    nodes calls start at (trunk groups name them); if empty, every node no other node goes
    to counts as an entry. Returns ConfigIssues, errors and warnings (see the module doc)."""
    where = flows.where
    issues = []
    edges = _edges(flows)

    for name, node in flows.nodes.items():
        for key, prompt in node.prompt_refs():
            paths = flows.prompt_paths(prompt)
            if paths and not any(prompt_exists(p) for p in paths):
                looked = ", ".join(paths)
                issues.append(ConfigIssue(key_path(where, name, key),
                                          f"prompt {prompt!r} not found (looked for {looked})"))

    roots = [e for e in entries if e in flows.nodes]
    for e in entries:
        if e not in flows.nodes:
            issues.append(ConfigIssue(key_path(where, e), "is used as an IVR entry but is not"
                                                          " a node"))
    if not entries:
        targeted = {t for ts in edges.values() for t in ts}
        roots = [n for n in flows.nodes if n not in targeted]
    seen = _reachable(edges, roots)
    for name in flows.nodes:
        if name not in seen:
            issues.append(ConfigIssue(key_path(where, name),
                                      "is unreachable: no entry leads to it", "warning"))

    # Nodes a call reaches before entering any menu (menus stop the walk).
    menuless = _reachable({n: ([] if flows.nodes[n].type is NodeType.MENU else ts)
                           for n, ts in edges.items()}, roots)
    # `back` chosen in the first menu (an option, maybe through gotos) leaves that menu for
    # one before it, and there is none.
    from_first_menu = set()
    for name in menuless:
        node = flows.nodes[name]
        if node.type is NodeType.MENU:
            for target in node.options.values():
                while target in flows.nodes and flows.nodes[target].type is NodeType.GOTO \
                        and target not in from_first_menu:
                    from_first_menu.add(target)
                    target = flows.nodes[target].to
                from_first_menu.add(target)
    for name in sorted(flows.nodes):
        node = flows.nodes[name]
        if node.type is NodeType.BACK and not node.fallback:
            if name in menuless:
                why = "a call can get here before any menu"
            elif name in from_first_menu:
                why = "it is an option of the first menu a call enters"
            else:
                continue
            issues.append(ConfigIssue(
                key_path(where, name), f"{why}, with no menu to go back to, and is then hung"
                " up; give it a fallback", "warning"))

    types = {n: node.type for n, node in flows.nodes.items()}
    instant = {n for n, t in types.items() if t not in _WAITS_FOR_INPUT | _TAKES_TIME}
    no_input = {n for n, t in types.items() if t not in _WAITS_FOR_INPUT}
    spinning = _cycles(edges, instant)
    spun = {n for comp in spinning for n in comp}
    for comp in spinning:
        issues.append(ConfigIssue(
            key_path(where, comp[0]),
            "loops through " + ", ".join(comp) + " without waiting for input or playing"
            " anything: a call would spin forever"))
    for comp in _cycles(edges, no_input):
        if set(comp) <= spun:
            continue
        issues.append(ConfigIssue(
            key_path(where, comp[0]),
            "loops through " + ", ".join(comp) + " and none of them waits for input: the"
            " caller can never leave", "warning"))
    return issues
