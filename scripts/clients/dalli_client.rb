# Ruby Dalli 3.0 (Debian ruby-dalli; binary protocol) session: get_multi (getkq... noop pipelines),
# set/add/replace/cas/incr/decr/append/prepend/delete/touch/gat, multi { } blocks (setq/addq/
# replaceq/deleteq ... then noop), 100 KB values (many TCP segments each way), misses.
#
# Usage: ruby dalli_client.rb SERVER CLIENT_LOG_JSON
# Dalli logs nothing per request; its own view is written to CLIENT_LOG_JSON: calls per Dalli
# method, and hits/misses of the reads as Dalli returned them (a get_multi counts per key).
# The truth file itself comes from memcached -vv (vv_truth.py); merge_client_log.py checks the two.
require 'dalli'
require 'json'
require 'logger'

server, log_path = ARGV
Dalli.logger = Logger.new(IO::NULL)
srand(7)
calls = Hash.new(0)
reads = { 'hits' => 0, 'misses' => 0 }
errors = Hash.new(0)

dc = Dalli::Client.new(server, socket_timeout: 5, expires_in: 0)

call = lambda do |name, *args, &blk|
  calls[name] += 1
  begin
    dc.public_send(name, *args, &blk)
  rescue Dalli::DalliError => e
    errors[e.class.name] += 1
    nil
  end
end
read = lambda do |name, *args|
  v = call.call(name, *args)
  v.nil? ? reads['misses'] += 1 : reads['hits'] += 1
  v
end

raw = { raw: true }
# plain sets and gets, hits and misses
20.times { |i| call.call(:set, "rb:k#{i}", "value-#{i}-" + ('x' * (i * 7)), 0, raw) }
20.times { |i| read.call(:get, "rb:k#{i}") }
5.times { |i| read.call(:get, "rb:missing#{i}") }
# Marshal-serialized values (flags say so)
call.call(:set, 'rb:hash', { 'a' => 1, 'b' => [1, 2, 3] })
read.call(:get, 'rb:hash')
# get_multi: getkq per key then noop; hits answer, misses are silent
3.times do |round|
  keys = (0...30).map { |i| i.even? ? "rb:k#{(i / 2 + round) % 20}" : "rb:gm-miss#{round}-#{i}" }
  calls[:get_multi] += 1
  h = dc.get_multi(keys)
  reads['hits'] += h.size
  reads['misses'] += keys.uniq.size - h.size
end
# add / replace
read.call(:get, 'rb:add1')
call.call(:add, 'rb:add1', 'first', 0, raw)   # stored
call.call(:add, 'rb:add1', 'second', 0, raw)  # not stored
call.call(:replace, 'rb:add1', 'third', 0, raw)    # stored
call.call(:replace, 'rb:nope', 'never', 0, raw)    # not stored
# cas: Dalli reads with get (cas in the header) then sets with that cas
call.call(:cas, 'rb:k1', 0, raw) { |v| v + '-cas' }
call.call(:cas, 'rb:cas-missing', 0, raw) { |v| v }       # miss: only the get
reads['hits'] += 1; reads['misses'] += 1                  # the two gets inside cas
v, cas = dc.get_cas('rb:k2'); calls[:get_cas] += 1; v.nil? ? reads['misses'] += 1 : reads['hits'] += 1
call.call(:set_cas, 'rb:k2', 'stale', cas + 1, 0, raw)    # key_exists
call.call(:set_cas, 'rb:k2', 'fresh', cas, 0, raw)        # stored
call.call(:delete_cas, 'rb:k3', 12345)                    # key_exists
# incr / decr: counters live as raw decimal strings
call.call(:incr, 'rb:ctr', 1, nil, 10)   # missing: created with 10
call.call(:incr, 'rb:ctr', 5)
call.call(:decr, 'rb:ctr', 3)
call.call(:decr, 'rb:ctr', 100)          # floors at 0
call.call(:incr, 'rb:ctr-none', 1)       # missing, no default: nil
call.call(:incr, 'rb:k4', 1)             # not a number: non_numeric error
# append / prepend (raw values)
call.call(:append, 'rb:k5', '-tail')
call.call(:prepend, 'rb:k5', 'head-')
call.call(:append, 'rb:app-missing', 'x')  # not stored
read.call(:get, 'rb:k5')
# touch / gat
call.call(:touch, 'rb:k6', 300)
call.call(:touch, 'rb:touch-missing', 300)
read.call(:gat, 'rb:k7', 600)
read.call(:gat, 'rb:gat-missing', 600)
# multi { }: quiet set/add/replace/delete, answered only on error, closed by noop
calls[:multi] += 1
dc.multi do
  10.times { |i| call.call(:set, "rb:q#{i}", "quiet-#{i}", 0, raw) }
  call.call(:add, 'rb:q0', 'dup', 0, raw)        # addq fails: key_exists answer
  call.call(:replace, 'rb:q-none', 'x', 0, raw)  # replaceq fails: key_not_found answer
  call.call(:delete, 'rb:q1')
  call.call(:delete, 'rb:q-none')                # deleteq fails: key_not_found answer
end
calls[:get_multi] += 1
qk = (0...12).map { |i| "rb:q#{i}" }
h = dc.get_multi(qk)
reads['hits'] += h.size
reads['misses'] += qk.size - h.size
# large values: 100 KB and 150 KB, random (compression does not shrink them)
big = Random.bytes(100_000)
call.call(:set, 'rb:big100k', big, 0, raw)
got = read.call(:get, 'rb:big100k')
raise 'big value mismatch' unless got == big
call.call(:set, 'rb:big150k', Random.bytes(150_000), 0, raw)
calls[:get_multi] += 1
h = dc.get_multi('rb:big100k', 'rb:big150k', 'rb:big-miss')
reads['hits'] += h.size
reads['misses'] += 3 - h.size
# fetch: get, then set on a miss
calls[:fetch] += 1
dc.fetch('rb:fetched', 0, raw) { 'computed' }
dc.fetch('rb:fetched', 0, raw) { 'computed' }
calls[:fetch] += 1
reads['misses'] += 1; reads['hits'] += 1                  # the two gets inside fetch
# deletes, then misses
call.call(:delete, 'rb:k8')
call.call(:delete, 'rb:k8')   # not found
read.call(:get, 'rb:k8')
call.call(:version)
call.call(:stats)
dc.close

# a second client, second connection: a short session
dc2 = Dalli::Client.new(server, socket_timeout: 5)
calls[:get_multi] += 1
h = dc2.get_multi((0...20).map { |i| "rb:k#{i}" })
reads['hits'] += h.size
reads['misses'] += 20 - h.size
dc2.set('rb:second', 'two', 0, raw); calls[:set] += 1
dc2.close

File.write(log_path, JSON.pretty_generate({ 'client' => "Dalli #{Dalli::VERSION} (Ruby #{RUBY_VERSION})",
                                            'calls' => calls.sort.to_h, 'reads' => reads, 'errors' => errors }) + "\n")
