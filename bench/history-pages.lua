-- wrk script for bench/run's deep history pages: each request asks a page from 1 to 19 of
-- size 50 (the room holds 1,000 messages), chosen at random, so no one page is asked over
-- and over. The path's "PAGE" is replaced by the page number.
math.randomseed(os.time())
request = function()
  return wrk.format("GET", (wrk.path:gsub("PAGE", tostring(math.random(1, 19)))))
end
