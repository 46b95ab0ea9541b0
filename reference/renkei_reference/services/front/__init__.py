"""The hub over several processes: front workers and one core (issue 17).

``renkei serve --workers N`` runs N *front* processes and one *core* process
(Trillian's shape: personalities in front of one log server).

* The **core** owns everything that has state: the hub's parts, the durable
  store, the Merkle trees and the one checkpoint signer, the witness, the
  linkages in flight.  One process, one event loop: the log's appends, its tree
  heads and its signatures are serialised by construction, not by locks
  across processes (RK-LOG-004, RK-LOG-006).
* The **fronts** share the public port (one listening socket, inherited) and
  do the per-request work that needs no state: TLS, HTTP, routing, the wire
  schema's checks, problem documents for malformed requests.  The linkage
  flow's operations (``desk.HOT``) go to the core as small framed JSON calls
  over a Unix socket (``frames``); every other request is passed to the
  core's own HTTP server on a second Unix socket, unchanged but for the
  verified client certificate, which the front forwards (``proxy``).

Both sockets live in a folder only the hub's user can open (mode 0700): the
core trusts what a front says about the TLS peer because nothing else can
reach it.
"""
