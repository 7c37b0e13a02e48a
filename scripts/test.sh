#!/usr/bin/env bash
# `npm test`: every check, fastest first; stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step 'type check'
npx tsc --noEmit -p tsconfig.json

step 'lint'
npx eslint .

step 'custom-elements.json is up to date'
node scripts/check-manifest.mjs

step 'unit tests (node)'
node --import tsx --test test/unit/*.test.ts

step 'build (dist/call-widget.js bundle, dist/npm entry + declarations; npm run build, quieter)'
npx vite build --logLevel warn
npx vite build --mode npm --logLevel warn
# Size ratchet of dist/call-widget.js (gzip -9): fails the run if the bundle
# grows past its figure below. Issue 6's budget is 16 KiB and is NOT met
# yet; this check keeps it from drifting further until it is. Raised
# from 21 KiB for the media-error ways out (+575 B), then from 21.5 KiB for
# the ring flow (mode="call": ring/accept/decline, the incoming and ringing
# views, five states in three languages: +1,012 B) and the front/back camera
# switch (+328 B); then a terser pass over Rolldown's output (-263 B) paid for
# the call's device panel (+206 B, +73 B for its focus and Escape handling)
# and the host hand-over message (+14 B). Lowered to 22.4 KiB when the
# lobby's and the device panel's CSS moved into their chunk (-167 B).
# Raised by 4 B to 22,942 B for the ping that answers a welcome (a page that
# never sent a frame is no longer held as a ghost by the room), then by 18 B
# to 22,960 B for assigning the local preview's stream only when it changes
# (it was re-assigned, and the preview restarted, on every render).
# Lowered to 22,454 B (-506 B) when the error view (its words, the ways out,
# the permission watch) became a chunk and the lobby's and knock list's
# English moved into theirs; raised by 74 B to 22,528 B for asking again
# for a chunk that did not load (doubling waits from 1 s; it was left out
# until the page reloaded), and by 9 B to 22,537 B for starting the
# permission watch when that retry brings the error chunk. Lowered by 37 B
# to 22,500 B when the lobby's chunk came to load like the others (its own
# loader, without the retry, went), and by 161 B to 22,339 B when the terser
# pass dropped partysocket's debug-log calls (the widget never turns its
# debug log on; see vite.config.ts). Raised by 5 B to 22,344 B for naming
# the socket's wait in a locked room's lobby `knocking`, like the state it
# gives (it was `lobby`, the name of the pre-join lobby too); by 51 B to
# 22,395 B for the device panel that closes when its chunk does not load
# (it stayed "expanded" with nothing in it) and for a user's press that asks
# for the chunk at once (it waited out the retry backoff, up to 32 s);
# 22,392 B once `#need` itself said "failed, waiting" (null); by 11 B to
# 22,403 B for a language catalog that failed to load and is asked for again
# like a chunk (it left the widget in English until the page reloaded); by
# 63 B to 22,466 B for a live region that says who joined the call (it said
# "Guest joined" when a page opened the link) and says everything of one
# update (the state that followed replaced "Bob hung up" unheard); by 28 B
# to 22,494 B for the layout: a page-given height no longer sets the width
# (640 px from 480 through the 4:3 ratio), 3:4 in a narrow container, the
# error view's buttons at its middle and told apart from the tile; by 3 B
# to 22,497 B for " · " separators written as text expressions, which the
# template minifier leaves alone ("Alice· Microphone off" in the build); by
# 18 B to 22,515 B for a callee's join button after a declined or missed
# ring, which said "Call again" to someone who had not called; by 144 B to
# 22,659 B for what a call with someone in it never showed: the message of
# a device action that failed, and the invite link to copy by hand (both
# only rendered in the empty-call placeholder), now a dismissible notice
# over the video; and a copy that worked, which the button now says;
# 22,657 B once the four device actions shared one #deviceAction; by 13 B
# to 22,670 B for call-ended when the element is removed mid-call (a page
# counting its calls missed that one); by 30 B to 22,700 B for an admit
# refused by a full room, which the host's widget dropped without a word;
# 22,689 B once a knock's socket sends its heartbeat in the lobby too (and
# everything else: the lobby answers what it does not take); by 12 B to
# 22,701 B for a live region that said "Bob is here" and "Bob joined" again
# after every room reconnect; by 69 B to 22,770 B for a link that hung after
# a network loss of 14 s (room socket too): its unanswered offer is withdrawn
# and made anew at each recovery step, every link steps at once when the
# socket is back, and a link that followed a rebuild keeps stepping (media
# back in ~1.3 s, not ~10 s); 22,769 B once a rebuild step stopped
# scheduling its next step twice (#open does it). By 144 B to 22,913 B for
# group calls: the local preview covered a tile's name as an inset, and four
# people stood in one row of tall tiles; the preview is a tile named "You"
# of a 2- or 3-column grid now. By 26 B to 22,939 B for focus after Admit or
# Reject by keyboard: it fell to the microphone toggle, now the next knock's
# Admit, or the lock. By 52 B to 22,991 B for call-peer-joined, which fired
# again after a room-server restart for a peer that never left (it came back
# to the room after us). By 16 B to 23,007 B for a "Locked" badge that
# everyone in the call sees (only a live-region line said so, and only the
# host's button showed it). By 32 B to 23,039 B for a speaker that cannot be
# used: it went back to the default without a word; now call-error speaker-
# unavailable and the notice say so, once. By 29 B to 23,068 B for a member
# who becomes host when the host leaves: nothing told it that the lock and
# the knocks were now its own; the live region does. By 29 B to 23,097 B for
# a rebuilt link whose first offer was lost with the room socket: a recovery
# step sends that offer again rather than rolling it back (which lost the
# data channel's m-section: the control channel never opened and the two
# sides' offers collided), and an offer that adds an m-section is no longer
# taken for a rebuild. 23,098 B once a welcome under a new identity forgets
# the known peers before it counts the ones it lists. By 55 B to 23,153 B
# after a review: focus in the knock list follows the knock it was on (Lit
# reuses rows, so a focused Admit silently became the next person's) and
# leaves it for the usual control when the call ends (it fell to the page);
# the grid counts only the tiles that show; a device notice goes with its
# call. By 32 B to 23,185 B for a room server that restarted and forgot its
# lock: the members came back to an unlocked room and nobody was told; the
# live region says "Room unlocked". By 31 B to 23,216 B for a member who
# comes back from a socket drop to find the host role its own (the host left
# for good meanwhile): nothing told it; the live region does. By 51 B to
# 23,267 B for a peer who left while our room socket was down: the resumed
# welcome no longer lists it, but we kept its frozen tile for the 20 s grace
# and then dropped it without a word; now it is a departure at once (peer-
# left, call-peer-left, its link closed). By 40 B to 23,307 B for a call of
# five: the last row's two tiles stood at the left under three; they sit at
# the middle (three columns as six half-columns). By 29 B to 23,336 B after
# a review: a callee whose caller went while its room socket was down stayed
# rung (the room's missed was lost with the socket); the resumed welcome
# ends the ring as missed. And a page hanging up on such a departure voids
# the welcome that brought it. By 29 B to 23,365 B for the other of a 1:1
# call hanging up while our room socket was down: we learnt only that it
# went, and waited for it; the resumed welcome now says who hung up
# (hungUp), and the call ends as a remote hang-up. By 116 B to 23,481 B for
# phone-width calls: the control bar took four rows of a 320 px widget, more
# than the video; it keeps to microphone, camera, More and hang-up under 420
# px, More showing devices, lock, the page's controls and invite. By 4 B to
# 23,485 B after a second review: departures learnt on coming back are
# handed on after the welcome (a group call ended on them while someone who
# joined meanwhile was still in it), More closes the device panel it opened
# and starts closed each call. By 59 B to 23,544 B for Escape in a narrow
# call's More: it closed the device panel but not More's group; Escape now
# closes what is open under focus, innermost first, focus back on its
# button. By 6 B to 23,550 B for CloseCode.retry (4000, the server's not-
# final close, named in the protocol instead of a bare number). By 56 B to
# 23,606 B (the 6 B of CloseCode.retry went back out) for five faults a
# review found: the camera turned off while the prompt was open was sent
# anyway; a request given up and answered after a new try failed that try; a
# room change mid-call left the widget joining; a widget put back in the
# page was not in its room; the join timeout never fired after a long
# prompt. By 31 B to 23,637 B for a ring that ended while a party's room
# socket was down: a caller rang on for good after an accept, rang the
# callee again after a decline, and a callee stayed rung after a timeout;
# the resumed welcome now says how it ended (ringEnded), and an accepted
# ring is sent again. By 25 B to 23,662 B after a review of the session's
# diff: a page that set another room and joined in the same task had that
# call hung up; a room change while rung kept the old ring; Escape from
# More's group left the device panel open. By 94 B to 23,756 B for media
# faults a review of the peer layer found: a microphone chosen in Devices
# during a receive-only call was captured while the UI said off; a failed
# device switch stayed the choice (the camera could not come back, and the
# next call failed); a camera that could not be turned on left the peer told
# it was on; the only microphone unplugged left its ended track on the
# sender and the UI on. By 31 B to 23,787 B for a group call's link that
# used up its recovery steps: it showed connection lost for good; it keeps
# trying, a rebuild every 30 s (a 1:1 call still fails with a retry). By 12
# B to 23,799 B after an audit of issue 6: the state badge was a second live
# region (role=status), so each state was likely read out twice; the room-
# reconnecting hint is said once instead; the page's controls slot is there
# while rung. By 11 B to 23,810 B for ::part names on visible pieces that
# had none: a tile's name label, the placeholder tile, the copy-by-hand
# invite field. By 97 B to 23,907 B after a review of the media and recovery
# fixes: the default-device retry applied to a choice made now (a gone
# camera silently became the default); a lost device was put back as the
# choice; a late failed fallback turned off a kind that had come back;
# network changes past the last quick step put the give-up off for good.
# Down 6 B to 23,901 B: a device choice forgotten in one place (media
# controller). By 44 B to 23,945 B for a group call shrunk to links that
# gave up (it read reconnecting for good; it fails now) and the room-
# reconnecting hint said when it appears. By 225 B to 24,170 B for ICE
# candidates in batches and frames paced to the room's rate limit: the fifth
# and sixth joiners of a six-way mesh with STUN and TURN sent 110-130 frames
# in a second and were closed with 4008. By 9 B to 24,179 B after a review
# of the peer layer and of the pacing: no answering side prepared for a peer
# repeated in the call (ringing one who waits in the call left both sides
# waiting for an offer), leave sent at once, the queue dropped on a
# heartbeat reconnect. (Roles by the order of the two ids went in and out
# again: an ICE restart from both ends at once then lost the video half the
# time.) By 11 B to 24,190 B: a held resume paces from an empty bucket (the
# room keeps a resumed member's bucket, so that resuming over and over
# cannot get round the flood close). By 18 B to 24,208 B: refilled since the
# drop, so a resume after an outage of 2 s or more starts with the whole
# burst (the rejoin after a restart is not held back). Down 2 B to 24,206 B:
# every end of a connection (a heartbeat reopen too) marks where a held
# resume's pace starts.
# By 78 B to 24,284 B for the protocol version check: the client sends its
# version (?v=), the room refuses another with 4005, the client checks
# welcome.version (a cached old script and a newer server exchanged no ICE
# candidates, silently).
# By 5 B to 24,289 B: no bye to a server of another version; a client with no
# version at all (older than the check) is refused with 4002, which it takes
# as final.
# By 50 B to 24,339 B for display names: format characters (zero-width
# spaces, soft hyphens, tag characters; ZWNJ and ZWJ kept), line separators
# and Hangul fillers refused and cleaned; names isolated (FSI/PDI, <bdi>) in
# sentences and badges.
# By 53 B to 24,392 B for the connect watch: a link we offered on and not
# connected 10 s later takes a recovery step (connect-timeout), which sends a
# lost first offer again; before, it sat in new and the call read connecting
# for good.
# By 55 B to 24,447 B after the review of the name rules: every
# Default_Ignorable_Code_Point (variation selectors past U+FE0F, the
# combining grapheme joiner, Khmer inherent vowels) refused, the Mongolian
# separators and U+FE0E/FE0F kept, a name with nothing visible is anonymous;
# the local avatar's initials from the cleaned name.
# By 80 B to 24,527 B for the connect watch after review: only an unanswered
# first offer is sent again (every 10 s), an answered link is left to ICE,
# and the steps start 30 s after the first offer (an ICE restart at 10 s
# threw away a slow path's progress for good).
# By 73 B to 24,600 B: the widget follows a change of the page's <html lang>
# or dir, and of the browser's language preference, after load (an i18n
# library switching the page's language left the widget in the old one).
# By 15 B to 24,615 B: a theme set as a property is the attribute before the
# first render, which waits for a catalog (the other scheme's colours showed
# meanwhile).
# By 37 B to 24,652 B: a link that never connected reads connecting while it
# takes recovery steps, not reconnecting (nothing was lost to reconnect).
# By 73 B to 24,725 B for a bug hunt's widget faults: a move mid-call ends
# the call with call-ended; Dismiss after a final refusal stays idle; a
# sentence said twice is read twice; the lobby captures the microphone after
# a call without one; the camera button stays while the camera is on under
# video=off; a ring heard under an old identity is over.
# By 8 B to 24,733 B: the answering side restarts no ICE and offers nothing
# before the first offer reached it (its media-less offer left the link
# without a data channel for good).
# By 150 B to 24,883 B for three widget faults from session 18's hunt: a
# hang-up while our room socket is down is said on each link's control
# channel too (the other side waited out the room's 20 s grace, then sat in
# waiting; now a remote hang-up at once, and the room's later peer-left is no
# news); a decline while the socket is down is sent again on the resumed
# welcome (the ring came back); join() or openLobby() on an element not in a
# document does nothing (it left a live camera in idle).
# By 38 B to 24,921 B for the room-server fixes of session 19: session tokens
# expire (1 h) and the widget keeps the fresh one the room sends every 15
# min; a batch of more trickle ICE candidates than a frame may carry goes in
# several frames (the room refused it whole); welcome.polite is gone
# (protocol 4).
# By 43 B to 24,964 B for a page back under a new id mid-call (away past the
# room's grace): it read joining, then connecting, and was told the other one
# "is here"; the call reads reconnecting until it connects.
# By 143 B to 25,107 B for the peer-layer fixes of session 19: a network
# change on a connected link restarts ICE as step 1 (a flapping network used
# up a working link's steps); an answer in stable, or to an offer other than
# the one awaiting it (ICE ufrag), is dropped; the answering side of a link
# that never connected sends its answer again instead of an ICE restart offer
# (a DTLS role conflict); a control channel the other side closed counts as
# silence; a failed negotiation step takes a recovery step at once.
# By 114 B to 25,221 B for two reviews' faults in this session's changes: a
# decline waiting for the room is sent again only to a ring from the same
# caller (it declined the caller's next ring, unseen); a peer that said bye
# is no news in anything the room says of it later (listed again in a resumed
# welcome, its signals opened a link never closed, its peer-left counted
# twice), and its bye counts in the window after a room-server restart; the
# offering side restarts ICE when given its answer again with none of the
# other side's candidates (the answering side of a never-connected link
# cannot tell a lost answer from lost candidates); a refused ICE candidate is
# no longer an error that takes a recovery step.
# By 3 B to 25,224 B: a ring that names no caller is not taken for the
# declined caller's (undefined equalled undefined: it was declined unseen).
# Back under a new id past the grace, the page is told who hung up meanwhile
# and the lock or host change: +11 B.
# Text outside the catalog: the separator, and a lost device with nothing to
# fall back on, are catalog strings; the call timer writes the language's
# digits: +105 B.
# A link whose control channel was closed is rebuilt at its next recovery
# step: +33 B.
# Review fixes: the client reads a new id as a return only when the welcome
# replaces our old id: +10 B.
# 25,577 B: a hang-up with the room socket down waits for the room to hold us
# again and tells it then (+194 B).
# 25,598 B: lock and host news from a return said after who left meanwhile,
# and not once that ended the call (+21 B).
# 25,634 B: arrivals while away handed on (call-peer-joined, 'X joined')
# after a return (+36 B).
# 25,665 B: review fixes of 60bb836 and 8cbea7f (+31 B).
# 25,708 B: review fixes of 3aade8a (+43 B).
# 25,762 B: a peer that joined the call while we were away is said as joined,
# and its repeated join re-sends an unanswered offer at once (+54 B).
# 25,786 B: a room change while the socket waits only for an unheard hang-up
# opens no socket in the new room (+24 B).
# 25,979 B: the others' video plays muted, with a sound button, where the
# browser will not start its sound; a receive-only preview holds no empty
# stream (+193 B).
# 26,039 B: review of dd12a18: a repeat sends only an unanswered first offer
# again, with no recovery step (+60 B).
# 26,074 B: a remote video track joins the stream with its first frame, so a
# peer with its camera off no longer holds back the page's load event (+35
# B).
# 26,128 B: a socket wanted in another room opens after the old room has
# heard an unheard hang-up (+54 B).
# 26,165 B: review of 9cc8739: the room wanted next counts as where the
# socket is (+37 B).
# 26,191 B: a listener keeps its session token until the room closes the
# socket of the id that hung up, so a drop before then says the hang-up again
# instead of meeting room-full (+26 B).
# 26,266 B: the sound button shows only once a peer sends sound, and any
# click in the widget turns the sound on (+75 B).
# 26,322 B: review of fa795a5 and 106ef08: the grace timer restarts at the
# held welcome, a close counts as heard only with its 'left' reason, and the
# sound button is said anew each call and never after it (+56 B).
# 26,364 B: the ended view says who hung up when the other side did (+42 B).
# 26,366 B: review of 18faa05 and 8afecfb: a new call resets what the last
# one left (the sound announcement, the end reason) where it starts, and the
# unheard hang-up waits a room tick past the grace (+2 B).
# 26,355 B: one place (re)starts the unheard hang-up's wait, instead of a
# closure kept on it and two timers set by hand (-11 B).
node scripts/size.mjs 26355
npx tsc -p tsconfig.build.json

step 'browser tests (web-test-runner, Chromium)'
npx wtr

step 'storybook build (smoke)'
npx storybook build --quiet --output-dir storybook-static >/dev/null

step 'end-to-end tests (partykit dev + Chromium)'
node --import tsx --test --test-concurrency=1 test/e2e/*.test.ts
